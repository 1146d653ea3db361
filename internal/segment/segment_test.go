package segment

import (
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// checkInvariants asserts the package guarantees for ss = split(text):
// ordered, non-overlapping, non-empty, trimmed, consistent offsets, no
// non-space code point lost, and (when maxRunes > 0) the length cap.
func checkInvariants(tb testing.TB, text string, ss []Sentence, maxRunes int) {
	tb.Helper()
	runes := []rune(text)
	covered := make([]bool, len(runes))
	prevEnd, prevByteEnd := 0, 0
	for i, s := range ss {
		if s.Begin < prevEnd || s.ByteBegin < prevByteEnd {
			tb.Fatalf("sentence %d %+v overlaps or precedes the previous one (end %d, byte end %d) in %q", i, s, prevEnd, prevByteEnd, text)
		}
		if s.Begin >= s.End || s.ByteBegin >= s.ByteEnd {
			tb.Fatalf("sentence %d %+v is empty in %q", i, s, text)
		}
		if s.End > len(runes) || s.ByteEnd > len(text) {
			tb.Fatalf("sentence %d %+v out of range (%d runes, %d bytes)", i, s, len(runes), len(text))
		}
		if got := utf8.RuneCountInString(text[:s.ByteBegin]); got != s.Begin {
			tb.Fatalf("sentence %d %+v: byte begin is code point %d, not %d", i, s, got, s.Begin)
		}
		if got := utf8.RuneCountInString(text[:s.ByteEnd]); got != s.End {
			tb.Fatalf("sentence %d %+v: byte end is code point %d, not %d", i, s, got, s.End)
		}
		if !slices.Equal(runes[s.Begin:s.End], []rune(text[s.ByteBegin:s.ByteEnd])) {
			tb.Fatalf("sentence %d %+v: code-point and byte spans differ", i, s)
		}
		if utf8.ValidString(text) && string(runes[s.Begin:s.End]) != text[s.ByteBegin:s.ByteEnd] {
			tb.Fatalf("sentence %d %+v: offsets do not round-trip", i, s)
		}
		if unicode.IsSpace(runes[s.Begin]) || unicode.IsSpace(runes[s.End-1]) {
			tb.Fatalf("sentence %d %+v not trimmed: %q", i, s, string(runes[s.Begin:s.End]))
		}
		if maxRunes > 0 && s.End-s.Begin > maxRunes {
			tb.Fatalf("sentence %d %+v longer than the cap %d", i, s, maxRunes)
		}
		for k := s.Begin; k < s.End; k++ {
			covered[k] = true
		}
		prevEnd, prevByteEnd = s.End, s.ByteEnd
	}
	for k, r := range runes {
		if !covered[k] && !unicode.IsSpace(r) {
			tb.Fatalf("code point %d (%q) lost: in no sentence of %q", k, r, text)
		}
	}
}

func texts(text string, ss []Sentence) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = text[s.ByteBegin:s.ByteEnd]
	}
	return out
}

func TestSplitRules(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		// basics
		{"empty", "", []string{}},
		{"only space", " \n\t \u00a0\n", []string{}},
		{"one sentence, no period", "Effects of aldosterone", []string{"Effects of aldosterone"}},
		{"two sentences", "Cells were lysed. Extracts were analysed.", []string{"Cells were lysed.", "Extracts were analysed."}},
		{"trimmed", "  A b.   C d.  ", []string{"A b.", "C d."}},
		{"exclamation and question", "Is it bound? Yes! It is.", []string{"Is it bound?", "Yes!", "It is."}},
		{"no space after period", "The p50.p65 dimer binds.", []string{"The p50.p65 dimer binds."}},
		{"ellipsis", "It rose... Then fell.", []string{"It rose...", "Then fell."}},

		// newlines
		{"title and abstract", "Effects of aldosterone\nIn vitro binding was described.", []string{"Effects of aldosterone", "In vitro binding was described."}},
		{"newline before lower case", "a title without period\nand a lower-case line.", []string{"a title without period", "and a lower-case line."}},
		{"blank line", "First part.\n\nSecond part.", []string{"First part.", "Second part."}},
		{"crlf", "Title\r\nAbstract text.\r\n", []string{"Title", "Abstract text."}},
		{"unicode line separator", "One\u2028Two", []string{"One", "Two"}},
		{"newline after abbreviation", "as shown in Fig.\nNext line.", []string{"as shown in Fig.", "Next line."}},

		// closing quotes and brackets
		{"closing quote", `termed the "death domain." Another domain.`, []string{`termed the "death domain."`, "Another domain."}},
		{"closing bracket", "It binds (see above.) Next we test.", []string{"It binds (see above.)", "Next we test."}},
		{"period after bracket", "It binds (P less than 0.02). The next.", []string{"It binds (P less than 0.02).", "The next."}},
		{"citation bracket", "as shown previously [12]. The next.", []string{"as shown previously [12].", "The next."}},

		// plausible starts
		{"lower-case start", "levels of TNF. p53 was induced.", []string{"levels of TNF. p53 was induced."}},
		{"digit start", "was measured. 25 patients were included.", []string{"was measured.", "25 patients were included."}},
		{"bracket start", "We show the following. (i) Acute expression.", []string{"We show the following.", "(i) Acute expression."}},
		{"square bracket start", "of NF-kappa B. [see comments]", []string{"of NF-kappa B.", "[see comments]"}},
		{"quote start", `was tested. "Plus" clones replicated.`, []string{"was tested.", `"Plus" clones replicated.`}},
		{"enumeration as in GENIA", "by anti-CD28 mAb. 2. Various concentrations.", []string{"by anti-CD28 mAb.", "2.", "Various concentrations."}},
		{"greek capital start", "was inhibited. Δ9 was not.", []string{"was inhibited.", "Δ9 was not."}},

		// abbreviations that never end a sentence
		{"e.g.", "granule proteins (e.g. ECP, EDN) were found. Next.", []string{"granule proteins (e.g. ECP, EDN) were found.", "Next."}},
		{"i.e. outside brackets", "prolonged, i.e. 28 day, therapy. Next.", []string{"prolonged, i.e. 28 day, therapy.", "Next."}},
		{"vs.", "decreased (1.73 vs. 1.16 units). Next.", []string{"decreased (1.73 vs. 1.16 units).", "Next."}},
		{"vs. before capital", "Treated vs. Control cells differ.", []string{"Treated vs. Control cells differ."}},
		{"Fig.", "as shown in Fig. 2 and Figs. 3A-C. Next.", []string{"as shown in Fig. 2 and Figs. 3A-C.", "Next."}},
		{"approx. ca. cf.", "approx. 5 cells, ca. 10 min, cf. Smith. Next.", []string{"approx. 5 cells, ca. 10 min, cf. Smith.", "Next."}},
		{"Dr. St.", "Dr. Dezube of St. Louis agreed. Next.", []string{"Dr. Dezube of St. Louis agreed.", "Next."}},
		{"sp. before strain code", "Streptomyces sp. NRRL 3052 and Bacillus sp. B4 grew. Next.", []string{"Streptomyces sp. NRRL 3052 and Bacillus sp. B4 grew.", "Next."}},
		{"spp. at sentence end", "isolates of Candida spp. The others grew.", []string{"isolates of Candida spp.", "The others grew."}},
		{"sp. nov.", "Vibrio sp. nov. strain A1 grew.", []string{"Vibrio sp. nov. strain A1 grew."}},
		{"U.S. before a name", "by the U.S. Food and Drug Administration. Next.", []string{"by the U.S. Food and Drug Administration.", "Next."}},
		{"abbreviations are case-sensitive", "individuals with CF. Because of that.", []string{"individuals with CF.", "Because of that."}},

		// abbreviations that end a sentence only before a capitalised word
		{"No. before number", "clone No. 5 was used. Next.", []string{"clone No. 5 was used.", "Next."}},
		{"et al. before year", "by Miyatake et al. (1990) was confirmed.", []string{"by Miyatake et al. (1990) was confirmed."}},
		{"et al. before capital", "as shown by Smith et al. We extend it.", []string{"as shown by Smith et al.", "We extend it."}},
		{"etc.", "IL-2, IL-4, etc. (not shown). The next.", []string{"IL-2, IL-4, etc. (not shown).", "The next."}},
		{"etc. at end", "IL-2, IL-4, etc. The next.", []string{"IL-2, IL-4, etc.", "The next."}},
		{"min. at end", "was 30 min. In contrast, it rose.", []string{"was 30 min.", "In contrast, it rose."}},
		{"journal before volume", "see Mol. Cell. Biol. 8:5581 for details.", []string{"see Mol. Cell. Biol. 8:5581 for details."}},
		{"U.S. before bracket", "approved in the U.S. (FDA). Next.", []string{"approved in the U.S. (FDA).", "Next."}},
		{"p.m. before bracket", "suppression (1 mg at 11 p.m.) Type I receptors fell.", []string{"suppression (1 mg at 11 p.m.) Type I receptors fell."}},

		// initials
		{"initials", "as reported by J. M. Hardwick previously.", []string{"as reported by J. M. Hardwick previously."}},
		{"initial before initial", "by S. D. Hayward and colleagues.", []string{"by S. D. Hayward and colleagues."}},
		{"multi-letter initials", "by C.J. Hetherington and H.-M. Chen. Next.", []string{"by C.J. Hetherington and H.-M. Chen.", "Next."}},
		{"S.D.", "mean +/- S.D. (range) was 1.2. Next.", []string{"mean +/- S.D. (range) was 1.2.", "Next."}},
		{"kinase C ends", "regulated by protein kinase C. The increase was large.", []string{"regulated by protein kinase C.", "The increase was large."}},
		{"NF-kappa B ends", "activation of NF-kappa B. In addition, AP-1 was found.", []string{"activation of NF-kappa B.", "In addition, AP-1 was found."}},
		{"author with year", "elements (Ducy, P. and Karsenty, G. (1995) Mol. Cell. Biol. 15, 1858-1869). The sequence.",
			[]string{"elements (Ducy, P. and Karsenty, G. (1995) Mol. Cell. Biol. 15, 1858-1869).", "The sequence."}},
		{"author list outside brackets", "shown by Jiang, L. Szekely, V. Wendel-Hansen, G. Klein, and A. Rosen, Exp. Cell Res.",
			[]string{"shown by Jiang, L. Szekely, V. Wendel-Hansen, G. Klein, and A. Rosen, Exp. Cell Res."}},
		{"author before journal", "Tracey, J. J. Exp. Med. 1996. Next.", []string{"Tracey, J. J. Exp. Med. 1996.", "Next."}},

		// decimals and species
		{"decimal", "The addition of 1.4 nM aldosterone did not help. Next.", []string{"The addition of 1.4 nM aldosterone did not help.", "Next."}},
		{"p value", "was significant (p < 0.05). The rest was not.", []string{"was significant (p < 0.05).", "The rest was not."}},
		{"sentence ends in a number", "the rate rose 3.3-fold. Treatment of cells.", []string{"the rate rose 3.3-fold.", "Treatment of cells."}},
		{"species", "S. cerevisiae and E. coli. The strains of D. melanogaster differ.",
			[]string{"S. cerevisiae and E. coli.", "The strains of D. melanogaster differ."}},

		// parentheses
		{"long citation in brackets", "analysis (S. Miyatake, M. Seiki, M. Yoshida, and K. Arai, Mol. Cell. Biol. 8:5581-5587, 1988) described a factor. Next.",
			[]string{"analysis (S. Miyatake, M. Seiki, M. Yoshida, and K. Arai, Mol. Cell. Biol. 8:5581-5587, 1988) described a factor.", "Next."}},
		{"sentence inside short brackets", "We tested it (It worked. Mostly.) and moved on.", []string{"We tested it (It worked. Mostly.) and moved on."}},
		{"unbalanced bracket", "as shown (see Table 1. The next sentence starts here.", []string{"as shown (see Table 1.", "The next sentence starts here."}},
		{"bracket closing on the next line", "as shown (see Table 1. The next\nline).", []string{"as shown (see Table 1.", "The next", "line)."}},
		{"parenthetical too long", "x (" + strings.Repeat("word ", 70) + "end. Next " + strings.Repeat("w ", 5) + ").",
			[]string{"x (" + strings.Repeat("word ", 70) + "end.", "Next " + strings.Repeat("w ", 5) + ")."}},

		// structured abstracts
		{"labels on lines", "OBJECTIVE:\nThe aim was X.\nDESIGN:\nUrine was sampled.", []string{"OBJECTIVE:", "The aim was X.", "DESIGN:", "Urine was sampled."}},
		{"labels inline", "BACKGROUND: The aim was X. METHODS: We did Y. RESULTS: It worked.",
			[]string{"BACKGROUND:", "The aim was X.", "METHODS:", "We did Y.", "RESULTS:", "It worked."}},
		{"multi-word label", "MATERIALS AND METHODS: Cells were grown.", []string{"MATERIALS AND METHODS:", "Cells were grown."}},
		{"ampersand label", "BACKGROUND & AIMS: Cells were grown.", []string{"BACKGROUND & AIMS:", "Cells were grown."}},
		{"label without preceding period", "patients were studied RESULTS: It worked.", []string{"patients were studied", "RESULTS:", "It worked."}},
		{"acronym title is no label", "BSAP: a key regulator. AIDS: A review.", []string{"BSAP: a key regulator.", "AIDS: A review."}},
		{"label needs a colon and space", "RESULTS:12 patients. RESULTS are good.", []string{"RESULTS:12 patients.", "RESULTS are good."}},
		{"label at end of text", "Some text. CONCLUSIONS:", []string{"Some text.", "CONCLUSIONS:"}},

		// unicode
		{"non-ascii letters", "Café au lait spots. Über alles.", []string{"Café au lait spots.", "Über alles."}},
		{"no-break space is space", "It binds.\u00a0The next.", []string{"It binds.", "The next."}},
		{"curly quotes", "termed \u201cdomain.\u201d Another one.", []string{"termed \u201cdomain.\u201d", "Another one."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Split(tc.in)
			checkInvariants(t, tc.in, got, 0)
			if g := texts(tc.in, got); !slices.Equal(g, tc.want) {
				t.Errorf("Split(%q)\n got  %q\n want %q", tc.in, g, tc.want)
			}
		})
	}
}

func TestOffsets(t *testing.T) {
	text := "Ünïcödé títle\n  β-catenin binds. Αlpha is next."
	got := Split(text)
	want := []Sentence{
		{Begin: 0, End: 13, ByteBegin: 0, ByteEnd: 18},   // 6 two-byte letters
		{Begin: 16, End: 32, ByteBegin: 21, ByteEnd: 38}, // "\n  " skipped; β is two bytes
		{Begin: 33, End: 47, ByteBegin: 39, ByteEnd: 54}, // Greek capital alpha, two bytes
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Split(%q) = %+v, want %+v", text, got, want)
	}
	checkInvariants(t, text, got, 0)
}

func TestLowercaseStarts(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"detected in FDC clusters. p65 was detected.", []string{"detected in FDC clusters.", "p65 was detected."}},
		{"clones were isolated. cDNA clones were sequenced.", []string{"clones were isolated.", "cDNA clones were sequenced."}},
		// not after abbreviations or single capitals, nor before plain words
		{"as in S. cerevisiae cells.", []string{"as in S. cerevisiae cells."}},
		{"cells, e.g. p53 mutants.", []string{"cells, e.g. p53 mutants."}},
		{"was measured. and then stopped.", []string{"was measured. and then stopped."}},
		{"the value was 5. p53 rose.", []string{"the value was 5. p53 rose."}},
	}
	sp := New(WithLowercaseStarts(true))
	for _, tc := range tests {
		got := sp.Split(tc.in)
		checkInvariants(t, tc.in, got, 0)
		if g := texts(tc.in, got); !slices.Equal(g, tc.want) {
			t.Errorf("lower-case starts: Split(%q)\n got  %q\n want %q", tc.in, g, tc.want)
		}
	}
	// and off by default
	if n := len(Split(tests[0].in)); n != 1 {
		t.Errorf("default splitter split before a lower-case start: %d sentences", n)
	}
}

func TestLongSentence(t *testing.T) {
	words := strings.Repeat("interleukin ", 400) // 4,800 bytes, no boundary
	got := Split(words)
	checkInvariants(t, words, got, 0)
	if len(got) != 1 {
		t.Fatalf("long sentence split into %d pieces without a cap", len(got))
	}

	sp := New(WithMaxRunes(100))
	got = sp.Split(words)
	checkInvariants(t, words, got, 100)
	if len(got) < 48 {
		t.Fatalf("cap 100 over 4,800 runes gave only %d pieces", len(got))
	}
	for i, s := range got {
		if piece := words[s.ByteBegin:s.ByteEnd]; strings.HasPrefix(piece, "nterleukin") || strings.HasSuffix(piece, "interleuki") {
			t.Fatalf("piece %d cut inside a word although white space was available: %q", i, piece)
		}
	}

	// no white space at all: hard cut at the cap
	blob := strings.Repeat("ä", 250)
	got = sp.Split(blob)
	checkInvariants(t, blob, got, 100)
	if len(got) != 3 || got[0].End != 100 || got[1].End != 200 || got[2].End != 250 {
		t.Fatalf("hard cuts of a 250-rune token = %+v", got)
	}

	// the cap does not touch short sentences
	short := "A b. C d."
	if a, b := Split(short), sp.Split(short); !slices.Equal(a, b) {
		t.Fatalf("cap changed short sentences: %+v vs %+v", a, b)
	}
}

func TestSplitToAppendsAndReuses(t *testing.T) {
	pre := []Sentence{{Begin: 1, End: 2, ByteBegin: 1, ByteEnd: 2}}
	got := SplitTo(pre, "One. Two.")
	if len(got) != 3 || got[0] != pre[0] {
		t.Fatalf("SplitTo did not append: %+v", got)
	}
	text := "Cells were lysed. Extracts were analysed (Fig. 2). p53 rose.\nNext line here."
	buf := make([]Sentence, 0, 16)
	allocs := testing.AllocsPerRun(100, func() {
		buf = SplitTo(buf[:0], text)
	})
	if allocs != 0 {
		t.Errorf("SplitTo into a large enough buffer allocated %.1f times per run", allocs)
	}
	if len(buf) != 3 {
		t.Errorf("got %d sentences, want 3", len(buf))
	}
}

func TestInvalidUTF8(t *testing.T) {
	for _, text := range []string{
		"\xff\xfe. Next.", "Bad \xe2\x82. Next \xc0.\n\xf0", "\x80", "A.\xa0B.", "A. \xe2\x80\xa8B",
	} {
		got := Split(text)
		checkInvariants(t, text, got, 0)
		got = New(WithMaxRunes(2), WithLowercaseStarts(true)).Split(text)
		checkInvariants(t, text, got, 2)
	}
}

func TestOptions(t *testing.T) {
	sp := New(WithMaxRunes(-5), WithMaxParen(-1), nil)
	if sp.maxRunes != 0 || sp.maxParen != 0 {
		t.Fatalf("negative options not clamped: %+v", sp)
	}
	// with no reach, a parenthetical does not protect a period
	text := "We tested it (It worked. Mostly.) and moved on."
	if got := texts(text, sp.Split(text)); len(got) != 2 {
		t.Fatalf("WithMaxParen(0): %q", got)
	}
}

func FuzzSplit(f *testing.F) {
	for _, s := range []string{
		"", "A.", "Cells were lysed. Extracts were analysed.", "OBJECTIVE:\nThe aim. RESULTS: Fine.",
		"(S. Miyatake, M. Seiki, Mol. Cell. Biol. 8:5581-5587, 1988) described", "e.g. Fig. 2. No. 5. et al. (1990)",
		"Ünïcödé títle\n  β-catenin binds. Αlpha", "\xff\xfe. Next.", "a ((((((((((((((((((((((( b. C ))))))))))))))))))))). D.",
		"p.m.) Type", "X. Y. Z. (1999) J. Exp. Med.", "and A. Rosen, G. (2000) J.",
	} {
		f.Add(s, uint8(0), false)
		f.Add(s, uint8(7), true)
	}
	f.Fuzz(func(t *testing.T, text string, max uint8, lower bool) {
		got := Split(text)
		checkInvariants(t, text, got, 0)
		sp := New(WithMaxRunes(int(max)), WithLowercaseStarts(lower))
		got = sp.Split(text)
		checkInvariants(t, text, got, int(max))
	})
}
