package main

import (
	"flag"
	"os"
	"testing"

	"github.com/nerstream/nerstream/internal/config"
)

// TestFlagReferenceListsEveryFlag keeps the flag reference (docs/flags.md) complete.
func TestFlagReferenceListsEveryFlag(t *testing.T) {
	readme, err := os.ReadFile("../docs/flags.md")
	if err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("pubmed", flag.ContinueOnError)
	var f flags
	f.register(fs)
	if missing := config.Undocumented(fs, string(readme)); len(missing) > 0 {
		t.Errorf("docs/flags.md does not list %v; regenerate the flag reference from `bin/producer pubmed -h`", missing)
	}
	rs := flag.NewFlagSet("redrive", flag.ContinueOnError)
	var rf redriveFlags
	rf.register(rs)
	if missing := config.Undocumented(rs, string(readme)); len(missing) > 0 {
		t.Errorf("docs/flags.md does not list %v; regenerate the flag reference from `bin/producer redrive -h`", missing)
	}
}
