package document

import (
	"errors"
	"strings"
	"testing"
)

// TestValidateRefusesIDsThatBreakLines: an id with a control or
// line-separator character would split a line in PubTator, JSON-lines
// readers and logs; it is refused naming the id and the character, while
// '|' and other punctuation stay legal.
func TestValidateRefusesIDsThatBreakLines(t *testing.T) {
	tests := []struct {
		id   string
		want string // "" = valid
	}{
		{"PMID:123", ""},
		{"a|b", ""},
		{"10.1000/xyz (v2)", ""},
		{"β-catenin\u00a0x", ""},
		{"a\x00b", "U+0000"},
		{"a\tb", "U+0009"},
		{"a\nb", "U+000A"},
		{"a\x1f", "U+001F"},
		{"a\x7f", "U+007F"},
		{"a\u0085b", "U+0085"},
		{"a\u009f", "U+009F"},
		{"a\u2028b", "U+2028"},
		{"x\u2029", "U+2029"},
	}
	for _, tt := range tests {
		err := Validate(Document{ID: tt.id, Text: "t"}, Limits{})
		if tt.want == "" {
			if err != nil {
				t.Errorf("id %q refused: %v", tt.id, err)
			}
			continue
		}
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "id" || !errors.Is(err, ErrInvalid) {
			t.Errorf("id %q: err = %v, want an id FieldError", tt.id, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "contains the control or line-separator character") {
			t.Errorf("id %q: error %q does not name %s", tt.id, err, tt.want)
		}
	}
}
