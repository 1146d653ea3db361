package config

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEnvTwins(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		env     map[string]string
		want    int
		wantStr string
		wantErr string
	}{
		{"default", nil, nil, 5000, "x", ""},
		{"env", nil, map[string]string{"NERSTREAM_FLUSH_RECORDS": "7", "NERSTREAM_OUT": "file:///o"}, 7, "file:///o", ""},
		{"flag wins", []string{"--flush-records=9"}, map[string]string{"NERSTREAM_FLUSH_RECORDS": "7"}, 9, "x", ""},
		{"bad env", nil, map[string]string{"NERSTREAM_FLUSH_RECORDS": "many"}, 0, "", "NERSTREAM_FLUSH_RECORDS"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			n := fs.Int("flush-records", 5000, "")
			s := fs.String("out", "x", "")
			err := Parse(fs, c.args)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want mention of %s", err, c.wantErr)
				}
				return
			}
			if err != nil || *n != c.want || *s != c.wantStr {
				t.Fatalf("got %d %q %v, want %d %q", *n, *s, err, c.want, c.wantStr)
			}
		})
	}
	if got := EnvName("kafka-tls-ca"); got != "NERSTREAM_KAFKA_TLS_CA" {
		t.Fatal(got)
	}
}

func TestUndocumented(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.Int("flush-records", 1, "")
	fs.String("out", "", "")
	doc := "  --flush-records  [NERSTREAM_FLUSH_RECORDS] (default 1)\n"
	if got := Undocumented(fs, doc); len(got) != 1 || got[0] != "--out" {
		t.Fatalf("Undocumented = %v, want [--out]", got)
	}
}

func TestSearchUp(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	got := SearchUp("go.mod")
	if len(got) < 2 || got[0] != filepath.Join(wd, "go.mod") || got[len(got)-1] != "/go.mod" {
		t.Fatalf("SearchUp = %v", got)
	}
	found := false
	for _, p := range got {
		if _, err := os.Stat(p); err == nil {
			found = true // the repository root, above this package
		}
	}
	if !found {
		t.Fatal("no go.mod found walking up from the package directory")
	}
}
