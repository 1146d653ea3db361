package wordpiece

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// hfChar is Hugging Face's handling of one code point, from hf_sweep.js.
type hfChar struct {
	clean, chinese, strip, lower, pretok, order string
}

// goChar computes the same five probes with this package's functions.
func goChar(c rune) hfChar {
	h := hfChar{clean: "-", chinese: "-", strip: "-", lower: "-", pretok: "-", order: "-"}
	// Position of U+0345 in the canonically reordered NFD("a\u0345" + c).
	items := []nfdItem{{c: 'a'}, {c: 0x345, ccc: hfCCC(0x345)}}
	for _, d := range appendNFD(nil, c) {
		items = append(items, nfdItem{c: d, ccc: hfCCC(d)})
	}
	start := 0
	for i := range items {
		if items[i].ccc == 0 {
			sortRun(items[start:i])
			start = i
		}
	}
	sortRun(items[start:])
	for i, it := range items {
		if it.c == 0x345 {
			if i != 1 {
				h.order = strconv.Itoa(i)
			}
			break
		}
	}
	switch {
	case isRemoved(c):
		h.clean = "x"
	case isWhitespace(c) && c != ' ':
		h.clean = "s"
	}
	if isChinese(c) {
		h.chinese = "c"
	}
	var kept []rune
	for _, d := range appendNFD(nil, c) {
		if !isNonSpacingMark(d) {
			kept = append(kept, d)
		}
	}
	if !slices.Equal(kept, []rune{c}) {
		h.strip = hexRunes(kept)
	}
	if l := appendLower(nil, c); !slices.Equal(l, []rune{c}) {
		h.lower = hexRunes(l)
	}
	switch {
	case isWhitespace(c):
		h.pretok = "w"
	case isPunct(c):
		h.pretok = "p"
	}
	return h
}

func hexRunes(rs []rune) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = strconv.FormatInt(int64(r), 16)
	}
	return strings.Join(parts, ",")
}

// TestCodePointSweep checks the character classes against Hugging Face for
// every Unicode scalar value: clean_text removal and whitespace mapping, CJK
// detection, NFD + non-spacing-mark removal, lowercasing, and the
// pre-tokenizer's whitespace and punctuation splits.
func TestCodePointSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("code point sweep runs node over 1.1M code points; skipped with -short")
	}
	out := runNode(t, nil, "hf_sweep.js")
	hf := make(map[rune]hfChar)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 7 {
			t.Fatalf("hf_sweep.js: bad line %q", sc.Text())
		}
		cp, err := strconv.ParseInt(f[0], 16, 32)
		if err != nil {
			t.Fatalf("hf_sweep.js: bad line %q", sc.Text())
		}
		hf[rune(cp)] = hfChar{f[1], f[2], f[3], f[4], f[5], f[6]}
	}
	if len(hf) < 1000 {
		t.Fatalf("hf_sweep.js returned only %d lines", len(hf))
	}
	identity := hfChar{"-", "-", "-", "-", "-", "-"}
	diffs := map[string][]rune{}
	for c := rune(0); c <= 0x10FFFF; c++ {
		if c >= 0xD800 && c <= 0xDFFF {
			continue
		}
		want, ok := hf[c]
		if !ok {
			want = identity
		}
		got := goChar(c)
		for _, p := range []struct {
			name      string
			got, want string
		}{{"clean", got.clean, want.clean}, {"chinese", got.chinese, want.chinese}, {"strip", got.strip, want.strip}, {"lower", got.lower, want.lower}, {"pretok", got.pretok, want.pretok}, {"order", got.order, want.order}} {
			if p.got != p.want {
				key := fmt.Sprintf("%s go=%s hf=%s", p.name, p.got, p.want)
				if p.name == "strip" || p.name == "lower" {
					key = fmt.Sprintf("%s go!=hf (hf %s)", p.name, map[bool]string{true: "identity", false: "maps"}[p.want == "-"])
				}
				diffs[key] = append(diffs[key], c)
			}
		}
	}
	keys := make([]string, 0, len(diffs))
	for k := range diffs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		t.Errorf("%s: %d code points: %s", k, len(diffs[k]), ranges(diffs[k]))
	}
}

// ranges formats sorted code points as Go unicode.Range32 literals.
func ranges(cs []rune) string {
	var b strings.Builder
	for i := 0; i < len(cs); {
		j := i
		for j+1 < len(cs) && cs[j+1] == cs[j]+1 {
			j++
		}
		fmt.Fprintf(&b, "{0x%04X, 0x%04X, 1}, ", cs[i], cs[j])
		i = j + 1
	}
	return b.String()
}
