package config

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// EnvPrefix is the prefix of every environment twin.
const EnvPrefix = "NERSTREAM_"

// EnvName returns the environment variable of a flag name:
// "flush-records" → "NERSTREAM_FLUSH_RECORDS".
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Parse parses args into fs, then fills every flag not set on the command line
// from its environment twin. Errors name the variable at fault.
func Parse(fs *flag.FlagSet, args []string) error {
	return ParseLookup(fs, args, os.LookupEnv)
}

// ParseLookup is Parse with the environment read through lookup (tests and
// fuzzers pass a map instead of changing the process environment).
func ParseLookup(fs *flag.FlagSet, args []string, lookup func(string) (string, bool)) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || set[f.Name] {
			return
		}
		env := EnvName(f.Name)
		if v, ok := lookup(env); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", env, v, e)
			}
		}
	})
	return err
}

// Usage returns a flag usage function that also lists the environment twins.
func Usage(fs *flag.FlagSet, synopsis string) func() {
	return func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: %s\n\nflags (each also read from its environment variable):\n", synopsis)
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(w, "  --%s  [%s]%s\n      %s\n", f.Name, EnvName(f.Name), def, f.Usage)
		})
	}
}

// Undocumented returns the flags of fs that doc does not list in the form
// Usage prints ("--name  [NERSTREAM_NAME]"), so tests can keep a README's
// flag reference complete.
func Undocumented(fs *flag.FlagSet, doc string) []string {
	var missing []string
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(doc, "--"+f.Name+"  ["+EnvName(f.Name)+"]") {
			missing = append(missing, "--"+f.Name)
		}
	})
	return missing
}

// SearchUp returns rel joined to the working directory and to each of its
// parents, nearest first: where to look for a file that lives at the root of
// a checkout (a bundle under models/, the ONNX Runtime library under
// .cache/, go.mod) from wherever a command or test runs.
func SearchUp(rel string) []string {
	wd, err := os.Getwd()
	if err != nil {
		return nil
	}
	var out []string
	for d := wd; ; d = filepath.Dir(d) {
		out = append(out, filepath.Join(d, rel))
		if filepath.Dir(d) == d {
			return out
		}
	}
}
