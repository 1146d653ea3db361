package ingest

import (
	"bytes"
	"context"
	"testing"

	"github.com/nerstream/nerstream/internal/document"
)

// TestRunPMC publishes the PMC fixtures (JATS, gzipped article set, BioC):
// every document arrives with its passages, which survive the batch codec
// and validation.
func TestRunPMC(t *testing.T) {
	files, _, err := Inputs(FormatPMC, []string{"../../testdata/pmc"})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("inputs %v, want the 3 fixtures", files)
	}
	pub := &fakePublisher{}
	var rej bytes.Buffer
	sum, err := Run(context.Background(), pub, FormatPMC, files, WithRejects(document.NewRejectSink(&rej)), WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Docs != 5 || rej.Len() != 0 {
		t.Fatalf("summary %+v, rejects %s", sum, rej.String())
	}
	for _, b := range pub.batches(t) {
		for _, d := range b.Documents {
			if ps := d.Passages.List(); len(ps) < 3 || ps[0].Type != "title" {
				t.Fatalf("document %s: passages %+v", d.ID, d.Passages)
			}
		}
	}
}
