package document

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestScanJSONLAcceptsALeadingUTF8BOM(t *testing.T) {
	in := "\uFEFF" + `{"id":"a","text":"first"}` + "\n" + `{"id":"b","text":"second"}` + "\n" + "\uFEFF" + `{"id":"c","text":"BOM mid-file is data"}`
	var rej bytes.Buffer
	var ids []string
	st, err := ScanJSONL(context.Background(), strings.NewReader(in), "bom.jsonl", DefaultLimits(), NewRejectSink(&rej), func(d Document, _ int64) error {
		ids = append(ids, d.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ids, ",") != "a,b" || st.Rejected != 1 || !strings.Contains(rej.String(), `"line":3`) {
		t.Fatalf("ids %v, rejected %d (%s); want a,b and line 3 rejected", ids, st.Rejected, rej.String())
	}
}
