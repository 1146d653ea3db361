package main

import (
	"flag"
	"os"
	"testing"

	"github.com/nerstream/nerstream/internal/config"
)

// TestREADMEListsEveryFlag keeps the README's flag reference complete.
func TestREADMEListsEveryFlag(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("pubmed", flag.ContinueOnError)
	var f flags
	f.register(fs)
	if missing := config.Undocumented(fs, string(readme)); len(missing) > 0 {
		t.Errorf("README.md does not list %v; regenerate the flag reference from `bin/producer pubmed -h`", missing)
	}
	rs := flag.NewFlagSet("redrive", flag.ContinueOnError)
	var rf redriveFlags
	rf.register(rs)
	if missing := config.Undocumented(rs, string(readme)); len(missing) > 0 {
		t.Errorf("README.md does not list %v; regenerate the flag reference from `bin/producer redrive -h`", missing)
	}
}
