package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/nerstream/nerstream/internal/eval"
	"github.com/nerstream/nerstream/internal/ner"
)

func openWith(t *testing.T, args ...string) (sessionSet, *ner.Annotator, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	var m modelFlags
	m.register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	_, ss, a, err := m.open(slog.New(slog.NewTextHandler(io.Discard, nil)))
	return ss, a, err
}

// --model-sessions 0 (the default) runs one single-threaded session per core for
// a recurrent graph on CPU and one session otherwise; an explicit count is
// obeyed, a bad one refused; the annotations never depend on it.
func TestSessionsFlag(t *testing.T) {
	cores := runtime.GOMAXPROCS(0)
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"--model", "../models/jnlpba-v2", "--device", "cpu"}, min(maxAutoSessions, cores)},
		{[]string{"--model", "../models/jnlpba-v2", "--device", "cpu", "--intra-threads", "64"}, 1},
		{[]string{"--model", "../testdata/tinybert", "--device", "cpu"}, 1},
		{[]string{"--model", "../testdata/tinybert", "--device", "cpu", "--model-sessions", "3"}, 3},
	} {
		ss, _, err := openWith(t, tc.args...)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if len(ss) != tc.want {
			t.Errorf("%v: %d sessions, want %d (%d cores)", tc.args, len(ss), tc.want, cores)
		}
		ss.Close()
	}
	if _, _, err := openWith(t, "--model", "../testdata/tinybert", "--model-sessions", "-1"); err == nil || !strings.Contains(err.Error(), "--model-sessions") {
		t.Fatalf("--model-sessions -1: err %v, want one naming the flag", err)
	}

	gold, err := eval.ReadDocs("../testdata/jnlpba/devel.docs.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var docs []ner.Doc
	for _, g := range gold[:60] {
		docs = append(docs, ner.Doc{ID: g.ID, Text: g.Text})
	}
	var ref []ner.Result
	for _, n := range []string{"1", "3"} {
		ss, a, err := openWith(t, "--model", "../models/jnlpba-v2", "--device", "cpu", "--model-sessions", n, "--intra-threads", "1")
		if err != nil {
			t.Fatal(err)
		}
		res, err := a.Annotate(context.Background(), docs)
		ss.Close()
		if err != nil {
			t.Fatal(err)
		}
		for i := range res {
			res[i].Doc.Meta = nil
		}
		if ref == nil {
			ref = res
			continue
		}
		if !reflect.DeepEqual(res, ref) {
			t.Fatalf("--model-sessions %s: annotations differ from one session's", n)
		}
	}
}
