package abbrev

import (
	"testing"
	"unicode/utf8"
)

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		name, text  string
		short, long string // "" short: no pair
		sb, lb      int    // code-point starts
	}{
		{"long (SF)", "We used tumor necrosis factor (TNF) here.", "TNF", "tumor necrosis factor", 31, 8},
		{"SF (long)", "Binding of NFAT (nuclear factor of activated T cells) to DNA.", "NFAT", "nuclear factor of activated T cells", 11, 17},
		{"token start", "stimulated by 12-O-tetradecanoylphorbol-13-acetate (TPA).", "TPA", "12-O-tetradecanoylphorbol-13-acetate", 52, 14},
		{"earlier word", "of the mouse mammary tumor virus (MMTV) LTR", "MMTV", "mouse mammary tumor virus", 34, 7},
		{"no space", "the T cell receptor(TcR) delta", "TcR", "T cell receptor", 20, 4},
		{"greek code points", "the α-fetoprotein (αFP) gene", "αFP", "α-fetoprotein", 19, 4},
		{"statistic", "was elevated (P less than 0.02).", "", "", 0, 0},
		{"citation year", "as shown before (1988).", "", "", 0, 0},
		{"chemistry", "of the 1,25-(OH)2 vitamin", "", "", 0, 0},
		{"no match", "in the presence of insulin (XYZ).", "", "", 0, 0},
		{"semicolon", "protein kinase C (PKC; ref. 3) was", "PKC", "protein kinase C", 18, 0},
		{"unclosed", "protein kinase C (PKC", "", "", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := Detect(tc.text)
			if tc.short == "" {
				if len(ps) != 0 {
					t.Fatalf("got %+v, want none", ps)
				}
				return
			}
			if len(ps) != 1 {
				t.Fatalf("got %+v, want one pair", ps)
			}
			p := ps[0]
			if p.Short.Text != tc.short || p.Long.Text != tc.long || p.Short.Begin != tc.sb || p.Long.Begin != tc.lb {
				t.Fatalf("got %+v, want %q@%d = %q@%d", p, tc.short, tc.sb, tc.long, tc.lb)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	text := "Interleukin 2 (IL-2) is made. IL-2 binds; IL-2R and pIL-2 are not IL-2 mentions, IL-2 is."
	d := NewDoc(text)
	r := []rune(text)
	span := func(s string, nth int) (int, int) {
		k := 0
		for i := 0; i+len([]rune(s)) <= len(r); i++ {
			if string(r[i:i+len([]rune(s))]) == s {
				if k == nth {
					return i, i + len([]rune(s))
				}
				k++
			}
		}
		t.Fatalf("%q #%d not in text", s, nth)
		return 0, 0
	}
	lb, le := span("Interleukin 2", 0)
	var ms []Mention
	ms = append(ms, Mention{lb, le, "protein"})
	for _, n := range []int{0, 1} { // "(IL-2)" and "IL-2 binds"
		b, e := span("IL-2", n)
		ms = append(ms, Mention{b, e, "DNA"})
	}
	b, e := span("IL-2R", 0)
	ms = append(ms, Mention{b, e, "protein"})
	res := d.Resolve(ms)
	if res[0] != nil {
		t.Errorf("long form resolved as a short form: %+v", res[0])
	}
	for i := 1; i <= 2; i++ {
		if res[i] == nil || res[i].Label != "protein" || !res[i].FromLongForm || res[i].Pair.Long.Text != "Interleukin 2" {
			t.Errorf("mention %d: %+v, want short form of Interleukin 2 typed protein", i, res[i])
		}
	}
	if res[3] != nil {
		t.Errorf("IL-2R resolved: %+v", res[3])
	}
	// A mention running past the long form (it contains the definition)
	// does not type the short form.
	res = d.Resolve([]Mention{{lb, le + 7, "DNA"}, ms[2]})
	if res[1] == nil || res[1].Label != "DNA" || res[1].FromLongForm {
		t.Errorf("covering mention typed the short form: %+v", res[1])
	}
	// Without a mention on the long form the short form keeps its type.
	res = d.Resolve(ms[1:2])
	if res[0] == nil || res[0].Label != "DNA" || res[0].FromLongForm {
		t.Errorf("got %+v, want own label", res[0])
	}
	// Occurrences: the definition's short form and whole-token later ones only.
	b, e = span("IL-2", 4)
	if _, ok := d.ShortFormAt(b, e); !ok {
		t.Errorf("last IL-2 is not indexed")
	}
	b, e = span("IL-2", 3) // inside pIL-2
	if _, ok := d.ShortFormAt(b, e); ok {
		t.Errorf("IL-2 inside pIL-2 is indexed")
	}
}

func FuzzDetect(f *testing.F) {
	for _, s := range []string{"tumor necrosis factor (TNF)", "NFAT (nuclear factor of activated T cells)", "((()))", "a (b", "α (αβ) (", "x(CT)19"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		r := []rune(s)
		d := NewDoc(s)
		for _, p := range d.Pairs() {
			for _, sp := range []Span{p.Short, p.Long} {
				if sp.Begin < 0 || sp.End > len(r) || sp.Begin >= sp.End || string(r[sp.Begin:sp.End]) != sp.Text {
					t.Fatalf("bad span %+v in %q", sp, s)
				}
			}
			if _, ok := d.ShortFormAt(p.Short.Begin, p.Short.End); !ok {
				t.Fatalf("definition's short form not indexed: %+v", p)
			}
		}
	})
}
