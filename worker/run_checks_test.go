package main

import (
	"context"
	"flag"
	"strings"
	"testing"
)

func TestRunRefusesNonDurableOutput(t *testing.T) {
	for _, tc := range []struct {
		out  string
		want string // "" = accepted
	}{
		{"mem://x/out", "not durable"},
		{"MEM://x/out", "not durable"},
		{"file:///tmp/out", ""},
		{"s3://bucket/out?region=eu-west-1", ""},
	} {
		err := checkDurableOut(tc.out)
		if (tc.want == "") != (err == nil) || (err != nil && (!strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.out))) {
			t.Errorf("checkDurableOut(%q) = %v, want %q", tc.out, err, tc.want)
		}
	}
	// And worker run itself refuses before touching the model or the broker.
	err := cmdRun(context.Background(), []string{"--brokers", "127.0.0.1:1", "--out", "mem://x/out", "--metrics-addr", ""})
	if err == nil || !strings.Contains(err.Error(), "not durable") {
		t.Fatalf("worker run --out mem:// = %v, want a refusal", err)
	}
}

func TestDefaultGroupIncludesTopic(t *testing.T) {
	a, b := defaultGroup("pubmed", "jnlpba-v2-0123456789ab"), defaultGroup("pmc", "jnlpba-v2-0123456789ab")
	if a == b || !strings.Contains(a, "pubmed") || !strings.Contains(a, "jnlpba-v2-0123456789ab") {
		t.Fatalf("default groups %q and %q: want one per topic and model", a, b)
	}
	if a != "nerstream-pubmed-jnlpba-v2-0123456789ab" {
		t.Fatalf("default group %q, want nerstream-<topic>-<model>-<version12> as documented", a)
	}
}

func TestLimitFlagsDefaultToTheSharedLimits(t *testing.T) {
	var l limitFlags
	fs := newFlagSet()
	l.register(fs)
	if err := fs.Parse([]string{"--max-doc-bytes", "0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.limits(); err == nil || !strings.Contains(err.Error(), "--max-doc-bytes 0") {
		t.Fatalf("zero limit accepted: %v", err)
	}
}

func newFlagSet() *flag.FlagSet { return flag.NewFlagSet("t", flag.ContinueOnError) }
