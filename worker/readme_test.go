package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nerstream/nerstream/internal/config"
)

// TestFlagReferenceListsEveryFlag keeps the flag reference (docs/flags.md) complete: every
// flag of `worker run` (a superset of the model flags) and of `worker demo`
// must appear there with its environment twin.
func TestFlagReferenceListsEveryFlag(t *testing.T) {
	readme, err := os.ReadFile("../docs/flags.md")
	if err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var f runFlags
	f.register(fs)
	if missing := config.Undocumented(fs, string(readme)); len(missing) > 0 {
		t.Errorf("docs/flags.md does not list %v; regenerate the flag reference from `bin/worker run -h`", missing)
	}
}

// TestNoMachinePathsInHelp: defaults shown in help, the README and docs/ are
// relative or described, never a path of the machine that built them.
func TestNoMachinePathsInHelp(t *testing.T) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var f runFlags
	f.register(fs)
	fs.VisitAll(func(fl *flag.Flag) {
		if filepath.IsAbs(fl.DefValue) {
			t.Errorf("--%s defaults to the absolute path %s", fl.Name, fl.DefValue)
		}
	})
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	docs, _ := filepath.Glob("../docs/*.md")
	for _, p := range append([]string{"../README.md"}, docs...) {
		text, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(text), root+"/") {
			t.Errorf("%s contains this checkout's path %s", p, root)
		}
	}
}
