package main

import (
	"flag"
	"os"
	"testing"

	"github.com/nerstream/nerstream/internal/config"
)

// TestREADMEListsEveryFlag keeps the README's flag reference complete: every
// flag of `worker run` (a superset of the model flags) and of `worker demo`
// must appear there with its environment twin.
func TestREADMEListsEveryFlag(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var f runFlags
	f.register(fs)
	if missing := config.Undocumented(fs, string(readme)); len(missing) > 0 {
		t.Errorf("README.md does not list %v; regenerate the flag reference from `bin/worker run -h`", missing)
	}
}
