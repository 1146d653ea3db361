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

// TestRunRefusesDeadLetterLoop: a dead-letter topic that the worker itself
// consumes is refused before anything starts, naming both flags.
func TestRunRefusesDeadLetterLoop(t *testing.T) {
	for _, tc := range []struct {
		name, topic, dlq string
		want             string // "" = accepted
	}{
		{"same topic", "pubmed", "pubmed", `--dlq-topic "pubmed" equals --topic "pubmed"`},
		{"default dlq", "pubmed", "", ""},
		{"explicit default", "pubmed", "pubmed.dlq", ""},
		{"other topic", "pubmed", "pubmed-dead", ""},
		{"case differs (Kafka names are case-sensitive)", "pubmed", "PubMed", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := runFlags{topic: tc.topic, dlq: tc.dlq, out: "file:///out", from: "committed"}
			f.kafka.Brokers = []string{"127.0.0.1:1"}
			f.limits.register(newFlagSet())
			err := f.validate()
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("validate(topic %q, dlq %q) = %v, want %q", tc.topic, tc.dlq, err, tc.want)
			}
		})
	}
	err := cmdRun(context.Background(), []string{"--brokers", "127.0.0.1:1", "--out", "file:///out", "--metrics-addr", "", "--topic", "t", "--dlq-topic", "t"})
	if err == nil || !strings.Contains(err.Error(), "--dlq-topic") {
		t.Fatalf("worker run --dlq-topic equal to --topic = %v, want a refusal", err)
	}
}
