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
		docs, batch, doc int
		want             []string
	}{
		{document.DefaultBatchDocs, document.DefaultMaxBatchBytes, document.DefaultMaxDocBytes, nil},
		{document.DefaultMaxDocs, document.DefaultMaxBatchBytes, document.DefaultMaxDocBytes, nil},
		{10_000, document.DefaultMaxBatchBytes, document.DefaultMaxDocBytes, []string{"--max-docs-per-batch at least", "batch_docs=10000"}},
		{document.DefaultBatchDocs, 2_000_000, document.DefaultMaxDocBytes, []string{"--max-batch-bytes"}},
		{document.DefaultBatchDocs, document.DefaultMaxBatchBytes, 400_000, []string{"--max-doc-bytes at least"}},
	}
	for _, tc := range tests {
		var buf bytes.Buffer
		checkWorkerLimits(slog.New(slog.NewTextHandler(&buf, nil)), tc.docs, tc.batch, tc.doc)
		if len(tc.want) == 0 && buf.Len() > 0 {
			t.Errorf("defaults warned: %s", buf.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(buf.String(), w) {
				t.Errorf("docs %d batch %d doc %d: log %q lacks %q", tc.docs, tc.batch, tc.doc, buf.String(), w)
			}
		}
	}
}
