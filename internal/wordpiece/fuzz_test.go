package wordpiece

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// checkEncoding verifies the invariants every encoding must satisfy.
func checkEncoding(t *testing.T, name string, tk *Tokenizer, text string, enc *Encoding) {
	t.Helper()
	n := len(enc.IDs)
	if len(enc.Tokens) != n || len(enc.Words) != n || len(enc.Bytes) != n || len(enc.Chars) != n {
		t.Fatalf("%s %q: slice lengths differ: ids %d tokens %d words %d bytes %d chars %d",
			name, text, n, len(enc.Tokens), len(enc.Words), len(enc.Bytes), len(enc.Chars))
	}
	nchars := utf8.RuneCountInString(text)
	for i := 0; i < n; i++ {
		b, c := enc.Bytes[i], enc.Chars[i]
		if b.Begin < 0 || b.Begin >= b.End || b.End > len(text) {
			t.Fatalf("%s %q: piece %d byte span %v outside [0,%d] or empty", name, text, i, b, len(text))
		}
		if c.Begin < 0 || c.Begin >= c.End || c.End > nchars {
			t.Fatalf("%s %q: piece %d char span %v outside [0,%d] or empty", name, text, i, c, nchars)
		}
		if got := utf8.RuneCountInString(text[:b.Begin]); got != c.Begin {
			t.Fatalf("%s %q: piece %d byte begin %d is code point %d, Chars says %d", name, text, i, b.Begin, got, c.Begin)
		}
		if got := utf8.RuneCountInString(text[b.Begin:b.End]); got != c.End-c.Begin {
			t.Fatalf("%s %q: piece %d bytes %v hold %d code points, Chars %v", name, text, i, b, got, c)
		}
		if enc.IDs[i] < 0 || enc.IDs[i] >= int64(tk.VocabSize()) || tk.Token(enc.IDs[i]) != enc.Tokens[i] {
			t.Fatalf("%s %q: piece %d id %d token %q does not match the vocabulary (%q)", name, text, i, enc.IDs[i], enc.Tokens[i], tk.Token(enc.IDs[i]))
		}
		if i == 0 {
			if enc.Words[0] != 0 {
				t.Fatalf("%s %q: first word index %d", name, text, enc.Words[0])
			}
			continue
		}
		p := i - 1
		if enc.Bytes[p].Begin > b.Begin || enc.Bytes[p].End > b.End {
			t.Fatalf("%s %q: offsets go backwards at piece %d: %v then %v", name, text, i, enc.Bytes[p], b)
		}
		if d := enc.Words[i] - enc.Words[p]; d != 0 && d != 1 {
			t.Fatalf("%s %q: word index jumps from %d to %d at piece %d", name, text, enc.Words[p], enc.Words[i], i)
		}
		if enc.Words[i] == enc.Words[p] && !strings.HasPrefix(enc.Tokens[i], tk.prefix) {
			t.Fatalf("%s %q: piece %d %q continues word %d without the %q prefix", name, text, i, enc.Tokens[i], enc.Words[i], tk.prefix)
		}
	}
}

// checkReconstruct verifies, for a tokenizer that neither lowercases nor
// strips accents, that every piece except [UNK] spells the original text it
// covers once clean_text's removals are applied.
func checkReconstruct(t *testing.T, tk *Tokenizer, text string, enc *Encoding) {
	t.Helper()
	for i, tok := range enc.Tokens {
		if enc.IDs[i] == tk.Unk() {
			continue
		}
		b := enc.Bytes[i]
		orig := text[b.Begin:b.End]
		if _, ok := tk.added.match(text, b.Begin); ok {
			if orig != tok {
				t.Fatalf("%q: added token %q covers %q", text, tok, orig)
			}
			continue
		}
		want := strings.Map(func(r rune) rune {
			if tk.cleanText && isRemoved(r) {
				return -1
			}
			return r
		}, orig)
		if i > 0 && enc.Words[i] == enc.Words[i-1] {
			want = tk.prefix + want
		}
		if tok != want {
			t.Fatalf("%q: piece %d %q covers %q (expected piece %q)", text, i, tok, orig, want)
		}
	}
}

func FuzzEncode(f *testing.F) {
	for _, s := range adversarial()[:200] {
		f.Add(s)
	}
	f.Add("IL-2 gene expression and NF-kappa B activation through CD28 requires reactive oxygen production by 5-lipoxygenase.")
	f.Add("a\xffb\xc3(c\xed\xa0\x80d") // invalid UTF-8
	var toks []*Tokenizer
	for _, p := range []string{"testdata/cased/tokenizer.json", "testdata/uncased/tokenizer.json", "testdata/raw/tokenizer.json"} {
		tk, err := Load(p)
		if err != nil {
			f.Fatal(err)
		}
		toks = append(toks, tk)
	}
	var enc Encoding
	f.Fuzz(func(t *testing.T, text string) {
		for i, tk := range toks {
			tk.EncodeTo(&enc, text)
			checkEncoding(t, tk.String(), tk, text, &enc)
			if i == 0 {
				checkReconstruct(t, tk, text, &enc)
			}
			// A fresh Encoding gives the same result as a reused one.
			fresh := tk.Encode(text)
			if !equalEnc(fresh, &enc) {
				t.Fatalf("%q: Encode and reused EncodeTo differ", text)
			}
		}
	})
}

func equalEnc(a, b *Encoding) bool {
	if len(a.IDs) != len(b.IDs) {
		return false
	}
	for i := range a.IDs {
		if a.IDs[i] != b.IDs[i] || a.Tokens[i] != b.Tokens[i] || a.Words[i] != b.Words[i] || a.Bytes[i] != b.Bytes[i] || a.Chars[i] != b.Chars[i] {
			return false
		}
	}
	return true
}
