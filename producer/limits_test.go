package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/nerstream/nerstream/internal/document"
)

func TestProducerWarnsWhenItsLimitsExceedTheWorkers(t *testing.T) {
	tests := []struct {
		batch, doc int
		want       []string
	}{
		{document.DefaultMaxBatchBytes, document.DefaultMaxDocBytes, nil},
		{2_000_000, document.DefaultMaxDocBytes, []string{"--max-batch-bytes"}},
		{document.DefaultMaxBatchBytes, 400_000, []string{"--max-doc-bytes at least"}},
	}
	for _, tc := range tests {
		var buf bytes.Buffer
		checkWorkerLimits(slog.New(slog.NewTextHandler(&buf, nil)), tc.batch, tc.doc)
		if len(tc.want) == 0 && buf.Len() > 0 {
			t.Errorf("defaults warned: %s", buf.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(buf.String(), w) {
				t.Errorf("batch %d doc %d: log %q lacks %q", tc.batch, tc.doc, buf.String(), w)
			}
		}
	}
}
