package wordpiece

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// writeFiles creates files (name → content) in a fresh directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var tinyVocab = strings.Join([]string{
	"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "runn", "##ing",
	"hello", ",", "!", "中", "a", "##b", "-", "il", "##2", "2",
}, "\n") + "\n"

func TestEncodeTable(t *testing.T) {
	dir := writeFiles(t, map[string]string{"vocab.txt": tinyVocab})
	tk, err := LoadDir(dir) // no tokenizer_config.json: lowercase + strip accents
	if err != nil {
		t.Fatal(err)
	}
	type piece struct {
		tok  string
		word int
		b    Span
	}
	long100 := "a" + strings.Repeat("b", 99)
	var long100Want []piece
	for i := 0; i < 100; i++ {
		tok := "##b"
		if i == 0 {
			tok = "a"
		}
		long100Want = append(long100Want, piece{tok, 0, Span{i, i + 1}})
	}
	cases := []struct {
		name, text string
		want       []piece
	}{
		{"empty", "", nil},
		{"only whitespace", " \t\n\r\u00a0\u3000", nil},
		{"greedy longest match", "unaffable", []piece{{"un", 0, Span{0, 2}}, {"##aff", 0, Span{2, 5}}, {"##able", 0, Span{5, 9}}}},
		{"lowercased", "UNAFFABLE", []piece{{"un", 0, Span{0, 2}}, {"##aff", 0, Span{2, 5}}, {"##able", 0, Span{5, 9}}}},
		{"accent stripped, offsets in original bytes", "Héllo, world!", []piece{
			{"hello", 0, Span{0, 6}}, {",", 1, Span{6, 7}}, {"[UNK]", 2, Span{8, 13}}, {"!", 3, Span{13, 14}}}},
		{"unmatched remainder is [UNK] for the whole word", "unaffablex", []piece{{"[UNK]", 0, Span{0, 10}}}},
		{"CJK is its own word", "中a", []piece{{"中", 0, Span{0, 3}}, {"a", 1, Span{3, 4}}}},
		{"added token splits words", "a[SEP]ab", []piece{{"a", 0, Span{0, 1}}, {"[SEP]", 1, Span{1, 6}}, {"a", 2, Span{6, 7}}, {"##b", 2, Span{7, 8}}}},
		{"punctuation isolated", "IL-2", []piece{{"il", 0, Span{0, 2}}, {"-", 1, Span{2, 3}}, {"2", 2, Span{3, 4}}}},
		{"controls removed without splitting", "\x00un\u200baff\u00adable", []piece{{"un", 0, Span{1, 3}}, {"##aff", 0, Span{6, 9}}, {"##able", 0, Span{11, 15}}}},
		{"100 chars is not too long", long100, long100Want},
		{"101 chars is too long", long100 + "b", []piece{{"[UNK]", 0, Span{0, 101}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			enc := tk.Encode(c.text)
			var got []piece
			for i := range enc.IDs {
				got = append(got, piece{enc.Tokens[i], enc.Words[i], enc.Bytes[i]})
				if id, ok := tk.ID(enc.Tokens[i]); !ok || id != enc.IDs[i] {
					t.Errorf("piece %d: id %d, vocabulary says %d (%v)", i, enc.IDs[i], id, ok)
				}
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("Encode(%q)\n got %v\nwant %v", c.text, got, c.want)
			}
			checkEncoding(t, "tiny", tk, c.text, enc)
		})
	}
}

func TestAccessors(t *testing.T) {
	cases := []struct {
		path                string
		cls, sep, pad, unk  int64
		lowercase           bool
		vocabSizeAtLeast    int
		known, unknownToken string
	}{
		{"testdata/cased/tokenizer.json", 2, 3, 0, 1, false, 4000, "##ing", "##ING"},
		{"testdata/uncased/tokenizer.json", 4, 5, 0, 3, true, 3000, "##ing", "[unused9]"},
		{"testdata/raw/tokenizer.json", 2, 3, 0, 1, false, 2000, "the", "The "},
		{"testdata/cased/vocab.txt", 2, 3, 0, 1, false, 4000, "##ing", "##ING"},
		{"testdata/uncased/vocab.txt", 4, 5, 0, 3, true, 3000, "[unused1]", "[unused9]"},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			tk, err := Load(c.path)
			if err != nil {
				t.Fatal(err)
			}
			if tk.CLS() != c.cls || tk.SEP() != c.sep || tk.Pad() != c.pad || tk.Unk() != c.unk {
				t.Errorf("CLS/SEP/Pad/Unk = %d/%d/%d/%d, want %d/%d/%d/%d", tk.CLS(), tk.SEP(), tk.Pad(), tk.Unk(), c.cls, c.sep, c.pad, c.unk)
			}
			if tk.Token(tk.CLS()) != "[CLS]" || tk.Token(tk.SEP()) != "[SEP]" || tk.Token(tk.Pad()) != "[PAD]" || tk.Token(tk.Unk()) != "[UNK]" {
				t.Errorf("special token strings: %q %q %q %q", tk.Token(tk.CLS()), tk.Token(tk.SEP()), tk.Token(tk.Pad()), tk.Token(tk.Unk()))
			}
			if tk.Lowercase() != c.lowercase {
				t.Errorf("Lowercase() = %v", tk.Lowercase())
			}
			if tk.VocabSize() < c.vocabSizeAtLeast {
				t.Errorf("VocabSize() = %d", tk.VocabSize())
			}
			id, ok := tk.ID(c.known)
			if !ok || tk.Token(id) != c.known {
				t.Errorf("ID(%q) = %d, %v; Token of it %q", c.known, id, ok, tk.Token(id))
			}
			if _, ok := tk.ID(c.unknownToken); ok {
				t.Errorf("ID(%q) found", c.unknownToken)
			}
			if tk.Token(-1) != "" || tk.Token(int64(tk.VocabSize())) != "" {
				t.Error("Token out of range is not empty")
			}
		})
	}
}

func TestLoadDirAndConfig(t *testing.T) {
	both := writeFiles(t, map[string]string{"vocab.txt": tinyVocab, "tokenizer_config.json": `{"do_lower_case": false}`})
	tk, err := LoadDir(both)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Lowercase() {
		t.Error("do_lower_case false in tokenizer_config.json is ignored")
	}
	if got := tk.Encode("Hello").Tokens; !reflect.DeepEqual(got, []string{"[UNK]"}) {
		t.Errorf("cased Encode(Hello) = %q", got)
	}
	tk, err = Load(filepath.Join(both, "vocab.txt"), WithLowercase(true))
	if err != nil {
		t.Fatal(err)
	}
	if got := tk.Encode("Hello").Tokens; !reflect.DeepEqual(got, []string{"hello"}) {
		t.Errorf("WithLowercase(true) does not override the config: %q", got)
	}
	// Object-form special tokens and renamed tokens.
	objCfg := writeFiles(t, map[string]string{
		"vocab.txt":             strings.Replace(tinyVocab, "[CLS]", "<cls>", 1),
		"tokenizer_config.json": `{"cls_token": {"content": "<cls>", "lstrip": false}}`,
	})
	if tk, err = LoadDir(objCfg); err != nil {
		t.Fatal(err)
	}
	if tk.Token(tk.CLS()) != "<cls>" {
		t.Errorf("cls_token object form: CLS is %q", tk.Token(tk.CLS()))
	}
	// tokenizer.json wins over vocab.txt in a directory.
	if _, err := os.Stat("../../testdata/tinybert/tokenizer.json"); err == nil {
		a, err := LoadDir("../../testdata/tinybert")
		if err != nil {
			t.Fatal(err)
		}
		b, err := Load("../../testdata/tinybert/tokenizer.json")
		if err != nil {
			t.Fatal(err)
		}
		if a.VocabSize() != b.VocabSize() || a.Lowercase() != b.Lowercase() {
			t.Error("LoadDir does not load tokenizer.json")
		}
	}
}

func TestLoadErrors(t *testing.T) {
	base, err := os.ReadFile("testdata/raw/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	edit := func(old, new string) string {
		if !strings.Contains(string(base), old) {
			t.Fatalf("testdata/raw/tokenizer.json lacks %q", old)
		}
		return strings.Replace(string(base), old, new, 1)
	}
	cases := []struct {
		name, file, content, want string
	}{
		{"bpe model", "tokenizer.json", edit(`"type": "WordPiece",
  "unk_token"`, `"type": "BPE",
  "unk_token"`), `unsupported model type "BPE"`},
		{"other normalizer", "tokenizer.json", edit(`"type": "BertNormalizer"`, `"type": "NFKC"`), `unsupported normalizer "NFKC"`},
		{"other pre-tokenizer", "tokenizer.json", edit(`"type": "BertPreTokenizer"`, `"type": "Whitespace"`), `unsupported pre_tokenizer "Whitespace"`},
		{"no pre-tokenizer", "tokenizer.json", edit(`"pre_tokenizer": {
  "type": "BertPreTokenizer"
 }`, `"pre_tokenizer": null`), "unsupported pre_tokenizer"},
		{"lstrip added token", "tokenizer.json", edit(`"lstrip": false`, `"lstrip": true`), `unsupported added token "[PAD]"`},
		{"unknown token missing", "tokenizer.json", edit(`"unk_token": "[UNK]"`, `"unk_token": "<unk>"`), `unknown token "<unk>"`},
		{"negative id", "tokenizer.json", edit(`"[PAD]": 0`, `"[PAD]": -7`), "out of range"},
		{"broken json", "tokenizer.json", `{"model": `, "parse tokenizer.json"},
		{"empty vocab", "vocab.txt", "", "empty vocab"},
		{"vocab without [UNK]", "vocab.txt", "[PAD]\n[CLS]\n[SEP]\nhello\n", `unknown token "[UNK]"`},
		{"bad config", "vocab.txt", tinyVocab, "parse tokenizer_config.json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := map[string]string{c.file: c.content}
			if c.name == "bad config" {
				files["tokenizer_config.json"] = "{nope"
			}
			dir := writeFiles(t, files)
			path := filepath.Join(dir, c.file)
			_, err := Load(path)
			if err == nil {
				t.Fatalf("Load succeeded, want error containing %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s and contain %q", err, path, c.want)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
	if _, err := LoadDir(t.TempDir()); err == nil || !strings.Contains(err.Error(), "neither tokenizer.json nor vocab.txt") {
		t.Errorf("LoadDir of an empty directory: %v", err)
	}
}

// TestFiles checks that Files lists exactly the files LoadDir reads: a file
// it does not list does not change the tokenizer.
func TestFiles(t *testing.T) {
	hfJSON, err := os.ReadFile("../../testdata/tinybert/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"tokenizer.json wins", map[string]string{"tokenizer.json": string(hfJSON), "vocab.txt": tinyVocab, "tokenizer_config.json": `{"do_lower_case": false}`}, []string{"tokenizer.json"}},
		{"vocab.txt alone", map[string]string{"vocab.txt": tinyVocab}, []string{"vocab.txt"}},
		{"vocab.txt with config", map[string]string{"vocab.txt": tinyVocab, "tokenizer_config.json": `{"do_lower_case": false}`}, []string{"vocab.txt", "tokenizer_config.json"}},
		{"config alone", map[string]string{"tokenizer_config.json": `{}`}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, tc.files)
			got, err := Files(dir)
			if tc.want == nil {
				if err == nil || !strings.Contains(err.Error(), dir) {
					t.Fatalf("Files = %v, %v; want an error naming %s", got, err, dir)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, p := range got {
				names = append(names, filepath.Base(p))
			}
			if !reflect.DeepEqual(names, tc.want) {
				t.Fatalf("Files = %v, want %v", names, tc.want)
			}
			// The files not listed do not change the tokenizer.
			before, err := LoadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for name := range tc.files {
				if slices.Contains(tc.want, name) {
					continue
				}
				if err := os.WriteFile(filepath.Join(dir, name), []byte("not a tokenizer file"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			after, err := LoadDir(dir)
			if err != nil {
				t.Fatalf("LoadDir after changing an unlisted file: %v", err)
			}
			if !reflect.DeepEqual(before.Encode("Hello IL-2 world"), after.Encode("Hello IL-2 world")) {
				t.Error("an unlisted file changed the tokenizer")
			}
		})
	}
}
