package wordpiece

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/nerstream/nerstream/internal/corpus"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// Differential tests against Hugging Face tokenizers (the Rust library, via
// its Node binding, npm `tokenizers` 0.23.2 installed by `make setup`).

// hfEnv returns the node binary and the tokenizers module directory, or skips
// the test when either is missing.
func hfEnv(t testing.TB) (node, module string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed; run `make setup` to run the Hugging Face differential tests")
	}
	module = os.Getenv("HF_TOKENIZERS_MODULE")
	if module == "" {
		module, err = filepath.Abs("../../.cache/node/node_modules/tokenizers")
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(module, "package.json")); err != nil {
		t.Skipf("npm module tokenizers not found at %s (set HF_TOKENIZERS_MODULE or run `make setup`)", module)
	}
	return node, module
}

// runNode runs a script from testdata with stdin and returns its stdout.
func runNode(t testing.TB, stdin []byte, script string, args ...string) []byte {
	t.Helper()
	node, module := hfEnv(t)
	cmd := exec.Command(node, append([]string{filepath.Join("testdata", script)}, args...)...)
	cmd.Env = append(os.Environ(), "HF_TOKENIZERS_MODULE="+module)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s %v: %v\n%s", script, args, err, stderr.String())
	}
	return out
}

// hfResult is one line of hf_encode.js's output.
type hfResult struct {
	IDs     []int64  `json:"ids"`
	Tokens  []string `json:"tokens"`
	Words   []int    `json:"words"`
	Offsets [][2]int `json:"offsets"`
}

var hfCache sync.Map // tokenizer.json path → []hfResult for diffInputs

// hfEncode encodes inputs with Hugging Face tokenizers.
func hfEncode(t testing.TB, tokenizerJSON string, inputs []string) []hfResult {
	t.Helper()
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, s := range inputs {
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
	}
	out := runNode(t, in.Bytes(), "hf_encode.js", tokenizerJSON)
	var res []hfResult
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var r hfResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("hf_encode.js output line %d: %v", len(res)+1, err)
		}
		res = append(res, r)
	}
	if len(res) != len(inputs) {
		t.Fatalf("hf_encode.js returned %d results for %d inputs", len(res), len(inputs))
	}
	return res
}

var (
	inputsOnce sync.Once
	inputsAll  []string
	inputsNote string
)

// diffInputs returns every document text of the JNLPBA devel and train
// splits plus adversarial strings (only the latter, with a logged note,
// when the JNLPBA files are absent).
func diffInputs(t testing.TB) []string {
	t.Helper()
	inputsOnce.Do(func() {
		for _, name := range []string{"devel.docs.jsonl", "train.docs.jsonl"} {
			texts, err := docTexts(corpusFile(name))
			if err != nil {
				inputsNote = fmt.Sprintf("JNLPBA documents not available (%v): comparing adversarial inputs only", err)
				continue
			}
			inputsAll = append(inputsAll, texts...)
		}
		inputsAll = append(inputsAll, adversarial()...)
	})
	if inputsNote != "" {
		t.Log(inputsNote)
	}
	return inputsAll
}

// corpusFile is the path of a JNLPBA file (see package corpus); a missing
// file yields a path that fails to open, which the callers report.
func corpusFile(name string) string {
	p, _ := corpus.Path(name)
	if p == "" {
		return filepath.Join("missing-jnlpba", name)
	}
	return p
}

// docTexts reads the "text" field of every line of a .docs.jsonl file.
func docTexts(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var texts []string
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var d struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal(line, &d); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
		texts = append(texts, d.Text)
	}
	return texts, nil
}

// adversarial returns hand-written edge cases and deterministic random
// strings over a pool of troublesome characters.
func adversarial() []string {
	long := strings.Repeat("abcdefghij", 11)
	s := []string{
		"", " ", "   ", "\t\n\r", "\u00a0", "\u00a0\u00a0x\u00a0", "a\tb\nc\rd", "a\vb\fc\u0085d",
		"héllo wörld", "Héllo Wörld ÀÉÎÕÜ", "naïve café résumé", "e\u0301 a\u0300\u0323 o\u0308\u0304",
		"\u0301\u0301a", "İstanbul ǅ ß ẞ ΣΑΣ ﬁ ﬀ", "中文字符 and 漢字", "日本語のテキスト", "한국어 텍스트 가각",
		"\u4e00x\u4e01", "a中b", "\U00020000\U0002A6DF\U0002B820\U0002B920", "\uF900\uFA0E",
		"\x00a\x00b", "a\x01b\x1fc\x7fd", "zero\u200bwidth\u200cjoiner\u200d\u2060\ufeffx", "\ufffd\ufffdx",
		"soft\u00adhyphen", "bidi \u202eevil\u202c \u200e\u200f", "private \ue000\U000F0000x",
		"emoji 😀 👍🏽 👨‍👩‍👧 🇩🇪 🥰", "x😀y", "αβγ-δ κB NF-κB TGF-β1 IFN-γ", "Ω µm μm °C ±5 ≥3",
		"IL-2-induced (IL-2R) [CD4+] {a} <b> 50% $3 #1 @x ~y `z` ^ | \\ _",
		"«quoted» „low“ ‘single’ “double” — – … · • ※ ¿¡ 。、「」", "a،b؛c؟ ।॥ ՞ ։",
		"word" + long, long + " " + long + "x", strings.Repeat("a", 100), strings.Repeat("a", 101),
		strings.Repeat("é", 101), strings.Repeat("中", 150), strings.Repeat("x ", 500),
		"[CLS] [SEP] [PAD] [UNK] [MASK]", "a[SEP]b", "[[SEP]]", "[SEP[SEP]", "[sep] [Sep]", "[UNK]x [MASK]y",
		"ǅemo Ǆ ǆ", "Ⅻ ⅻ ① ⑴", "ＡＢＣ ａｂｃ １２３", "Å Å Å", "ﾊﾝｶｸ", "\U0001D400\U0001D41A",
		"ΐ ΰ ᾷ ῼ", "Ⓐⓐ", "\u0345\u0399", "𐐀𐐨", "ꙋ Ꙋ", "ᏸ Ᏸ", "ꭰ",
		"a\u0300\u0316\u0317b", "\u1100\u1161\u11a8", "D\u0307\u0323", "\u0958\u0959", "\u2126\u212a\u212b",
		"\u2028line\u2029para\u3000ideo\u1680ogham\u205fmath", "tab\u0009vt\u000bff\u000cnl\u000a",
	}
	pool := []rune("aAzZ09 .,-()[]#é\u0301ßİΣσς中\u3000\u00a0\t\n\x00\x07\u200b\ufeff😀αβγ\u00ad\u0300\uffef\ue000\u2028。！ﬁ가\U00020000\u0378\u1F00\u0130\u212a")
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		n := rng.IntN(40)
		var b strings.Builder
		for j := 0; j < n; j++ {
			if rng.IntN(4) == 0 {
				b.WriteString([]string{"[SEP]", "[CLS]", "IL-2", "kinase", "##ing", " ", "word"}[rng.IntN(7)])
				continue
			}
			b.WriteRune(pool[rng.IntN(len(pool))])
		}
		s = append(s, b.String())
	}
	// Combining sequences: canonical reordering across characters, marks
	// that decompose (U+0344, U+0F73), marks newer than HF's tables, Hangul.
	marks := []rune("aeoIİéệǕ̴᜴᜕ְุཱཱིི༹̖᷽̣́̈́᷻᷾̈࢘᷼ͅ가가 -[SEP]中゙゚か")
	for i := 0; i < 2000; i++ {
		n := 1 + rng.IntN(12)
		var b strings.Builder
		for j := 0; j < n; j++ {
			b.WriteRune(marks[rng.IntN(len(marks))])
		}
		s = append(s, b.String())
	}
	// Every rune of a slice of interesting blocks, in words of 8.
	for lo := rune(0x80); lo < 0x2000; lo += 8 {
		var b strings.Builder
		for c := lo; c < lo+8; c++ {
			b.WriteRune(c)
		}
		s = append(s, "x"+b.String()+" y")
	}
	return s
}

// compareHF encodes inputs with tk and checks every field against want.
func compareHF(t *testing.T, name string, tk *Tokenizer, inputs []string, want []hfResult) {
	t.Helper()
	var enc Encoding
	mismatches, pieces := 0, 0
	for i, text := range inputs {
		pieces += len(want[i].IDs)
		tk.EncodeTo(&enc, text)
		h := want[i]
		chars := make([][2]int, len(enc.Chars))
		for j, c := range enc.Chars {
			chars[j] = [2]int{c.Begin, c.End}
		}
		if h.IDs == nil {
			h.IDs = []int64{}
		}
		got := hfResult{IDs: append([]int64{}, enc.IDs...), Tokens: enc.Tokens, Words: enc.Words, Offsets: chars}
		if len(got.Tokens) == 0 {
			got.Tokens, got.Words, got.Offsets = nil, nil, nil
			h.Tokens, h.Words, h.Offsets = nil, nil, nil
		}
		ok := reflect.DeepEqual(got, h)
		// Byte offsets must describe the same text as the code-point offsets.
		for j := range enc.Bytes {
			b, c := enc.Bytes[j], enc.Chars[j]
			if utf8.RuneCountInString(text[:b.Begin]) != c.Begin || utf8.RuneCountInString(text[b.Begin:b.End]) != c.End-c.Begin {
				ok = false
			}
		}
		if !ok {
			mismatches++
			if mismatches <= 5 {
				t.Errorf("%s: input %d %s:\n got ids %v\nwant ids %v\n got tokens %q\nwant tokens %q\n got words %v\nwant words %v\n got offsets %v\nwant offsets %v\n got bytes %v",
					name, i, strconv.QuoteToASCII(trunc(text, 300)), got.IDs, h.IDs, got.Tokens, h.Tokens, got.Words, h.Words, got.Offsets, h.Offsets, enc.Bytes)
			}
		}
	}
	t.Logf("%s: compared %d inputs (%d wordpieces) with Hugging Face, %d mismatches", name, len(inputs), pieces, mismatches)
	if mismatches > 0 {
		t.Errorf("%s: %d of %d inputs differ from Hugging Face", name, mismatches, len(inputs))
	}
}

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func TestHuggingFaceDifferential(t *testing.T) {
	if testing.Short() {
		t.Skip("differential test runs node; skipped with -short")
	}
	hfEnv(t)
	inputs := diffInputs(t)
	cases := []struct {
		name, hfJSON, load string
		opts               []Option
	}{
		{"cased", "testdata/cased/tokenizer.json", "testdata/cased/tokenizer.json", nil},
		{"uncased", "testdata/uncased/tokenizer.json", "testdata/uncased/tokenizer.json", nil},
		{"raw", "testdata/raw/tokenizer.json", "testdata/raw/tokenizer.json", nil},
		// vocab.txt with tokenizer_config.json (do_lower_case: false).
		{"cased-vocab.txt", "testdata/cased/tokenizer.json", "testdata/cased/vocab.txt", nil},
		// vocab.txt alone: BertTokenizer defaults (lowercase, strip accents).
		{"uncased-vocab.txt", "testdata/uncased/tokenizer.json", "testdata/uncased/vocab.txt", []Option{WithMaxInputCharsPerWord(30)}},
		{"tinybert", "../../testdata/tinybert/tokenizer.json", "../../testdata/tinybert/tokenizer.json", nil},
		{"tinybert-dir", "../../testdata/tinybert/tokenizer.json", "../../testdata/tinybert", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := os.Stat(c.hfJSON); err != nil {
				t.Skipf("%s not present: %v", c.hfJSON, err)
			}
			tk, err := Load(c.load, c.opts...)
			if err != nil {
				t.Fatal(err)
			}
			var want []hfResult
			if v, ok := hfCache.Load(c.hfJSON); ok {
				want = v.([]hfResult)
			} else {
				want = hfEncode(t, c.hfJSON, inputs)
				hfCache.Store(c.hfJSON, want)
			}
			compareHF(t, c.name, tk, inputs, want)
		})
	}
}
