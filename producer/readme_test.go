package main

import (
	"flag"
	"os"
	"strings"
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
	fs.VisitAll(func(fl *flag.Flag) {
		if !strings.Contains(string(readme), "--"+fl.Name+"  ["+config.EnvName(fl.Name)+"]") {
			t.Errorf("README.md does not list --%s [%s]; regenerate the flag reference from `bin/producer pubmed -h`", fl.Name, config.EnvName(fl.Name))
		}
	})
}
