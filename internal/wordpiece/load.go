package wordpiece

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"
)

// maxID bounds token ids read from files, so that a corrupt file cannot make
// the loader allocate an enormous id table.
const maxID = 1 << 24

// Load reads a tokenizer from path: a Hugging Face tokenizer.json (a file
// whose content is a JSON object) or a BERT vocab.txt (one token per line, id
// = line number). For a vocab.txt, tokenizer_config.json in the same
// directory supplies do_lower_case, strip_accents, tokenize_chinese_chars and
// the special token names when present; without it the defaults of
// Hugging Face's BertTokenizer apply (lowercase, accents stripped). If path
// is a directory, Load calls LoadDir. Options override the file's settings.
//
// Unsupported configurations (a model other than WordPiece, a normalizer
// other than BertNormalizer, a pre-tokenizer other than BertPreTokenizer,
// added tokens with normalized/lstrip/rstrip/single_word set) are errors that
// name the file.
func Load(path string, opts ...Option) (*Tokenizer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	if st.IsDir() {
		return LoadDir(path, opts...)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n")
	var t *Tokenizer
	if len(trimmed) > 0 && trimmed[0] == '{' {
		t, err = parseTokenizerJSON(trimmed, opts)
	} else {
		var cfgData []byte
		cfgPath := filepath.Join(filepath.Dir(path), "tokenizer_config.json")
		if cfgData, err = os.ReadFile(cfgPath); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("load tokenizer %s: %w", path, err)
		}
		t, err = parseVocabTxt(data, cfgData, opts)
		if err != nil && cfgData != nil {
			err = fmt.Errorf("%w (with %s)", err, cfgPath)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %s: %w", path, err)
	}
	return t, nil
}

// LoadDir reads dir/tokenizer.json if it exists, else dir/vocab.txt (with
// dir/tokenizer_config.json when present): the files [Files] lists. See Load.
func LoadDir(dir string, opts ...Option) (*Tokenizer, error) {
	files, err := Files(dir)
	if err != nil {
		return nil, err
	}
	return Load(files[0], opts...)
}

// Files returns the paths of the files LoadDir reads for dir, and nothing
// else: dir/tokenizer.json alone when it exists, else dir/vocab.txt followed
// by dir/tokenizer_config.json when that exists. A file not listed (a
// vocab.txt next to a tokenizer.json, say) cannot change the tokenizer, so an
// identity of the tokenizer may hash exactly these.
func Files(dir string) ([]string, error) {
	exists := func(name string) bool {
		_, err := os.Stat(filepath.Join(dir, name))
		return err == nil
	}
	switch {
	case exists("tokenizer.json"):
		return []string{filepath.Join(dir, "tokenizer.json")}, nil
	case exists("vocab.txt"):
		files := []string{filepath.Join(dir, "vocab.txt")}
		if exists("tokenizer_config.json") {
			files = append(files, filepath.Join(dir, "tokenizer_config.json"))
		}
		return files, nil
	}
	return nil, fmt.Errorf("load tokenizer: %s has neither tokenizer.json nor vocab.txt", dir)
}

// hfFile is the subset of tokenizer.json that a BERT WordPiece tokenizer uses.
type hfFile struct {
	AddedTokens []struct {
		ID         int64  `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		Lstrip     bool   `json:"lstrip"`
		Rstrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	} `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Padding       *struct {
		PadID    *int64 `json:"pad_id"`
		PadToken string `json:"pad_token"`
	} `json:"padding"`
	Model struct {
		Type                    string          `json:"type"`
		Vocab                   json.RawMessage `json:"vocab"`
		Merges                  json.RawMessage `json:"merges"`
		UnkToken                *string         `json:"unk_token"`
		ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
		MaxInputCharsPerWord    *int            `json:"max_input_chars_per_word"`
	} `json:"model"`
}

type typed struct {
	Type string `json:"type"`
}

func isNull(m json.RawMessage) bool {
	s := bytes.TrimSpace(m)
	return len(s) == 0 || string(s) == "null"
}

func parseTokenizerJSON(data []byte, opts []Option) (*Tokenizer, error) {
	var f hfFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("parse tokenizer.json: %w", err)
	}
	m := f.Model
	switch {
	case m.Type == "WordPiece":
	case m.Type == "" && m.Merges == nil && m.ContinuingSubwordPrefix != nil && m.MaxInputCharsPerWord != nil:
	case m.Type == "":
		return nil, errors.New("unsupported model: no \"type\" and not a WordPiece model")
	default:
		return nil, fmt.Errorf("unsupported model type %q: only WordPiece is supported", m.Type)
	}
	var vocab map[string]int64
	if err := json.Unmarshal(m.Vocab, &vocab); err != nil {
		return nil, fmt.Errorf("parse model.vocab: %w", err)
	}
	var cfg config
	var nt struct {
		Type               string `json:"type"`
		CleanText          *bool  `json:"clean_text"`
		HandleChineseChars *bool  `json:"handle_chinese_chars"`
		StripAccents       *bool  `json:"strip_accents"`
		Lowercase          *bool  `json:"lowercase"`
	}
	f2, t2 := false, true
	if isNull(f.Normalizer) {
		cfg = config{cleanText: &f2, chinese: &f2, stripAccents: &f2, lowercase: &f2}
	} else {
		if err := json.Unmarshal(f.Normalizer, &nt); err != nil {
			return nil, fmt.Errorf("parse normalizer: %w", err)
		}
		if nt.Type != "BertNormalizer" {
			return nil, fmt.Errorf("unsupported normalizer %q: only BertNormalizer (or none) is supported", nt.Type)
		}
		cfg = config{cleanText: &t2, chinese: &t2, lowercase: &t2, stripAccents: nt.StripAccents}
		if nt.CleanText != nil {
			cfg.cleanText = nt.CleanText
		}
		if nt.HandleChineseChars != nil {
			cfg.chinese = nt.HandleChineseChars
		}
		if nt.Lowercase != nil {
			cfg.lowercase = nt.Lowercase
		}
	}
	var pt typed
	if isNull(f.PreTokenizer) {
		return nil, errors.New("unsupported pre_tokenizer: none (only BertPreTokenizer is supported)")
	}
	if err := json.Unmarshal(f.PreTokenizer, &pt); err != nil {
		return nil, fmt.Errorf("parse pre_tokenizer: %w", err)
	}
	if pt.Type != "BertPreTokenizer" {
		return nil, fmt.Errorf("unsupported pre_tokenizer %q: only BertPreTokenizer is supported", pt.Type)
	}
	if m.MaxInputCharsPerWord != nil {
		cfg.maxChars = m.MaxInputCharsPerWord
	}
	unk := "[UNK]"
	if m.UnkToken != nil {
		unk = *m.UnkToken
	}
	prefix := "##"
	if m.ContinuingSubwordPrefix != nil {
		prefix = *m.ContinuingSubwordPrefix
	}
	var added []addedToken
	for _, a := range f.AddedTokens {
		if a.Content == "" {
			return nil, fmt.Errorf("added token %d: empty content", a.ID)
		}
		if a.Normalized || a.Lstrip || a.Rstrip || a.SingleWord {
			return nil, fmt.Errorf("unsupported added token %q: normalized, lstrip, rstrip and single_word must be false", a.Content)
		}
		added = append(added, addedToken{content: a.Content, id: a.ID})
	}
	sp := specials{unk: unk, cls: "[CLS]", sep: "[SEP]", pad: "[PAD]"}
	if err := sp.fromPostProcessor(f.PostProcessor); err != nil {
		return nil, err
	}
	if f.Padding != nil {
		if f.Padding.PadID != nil {
			sp.padID = f.Padding.PadID
		} else if f.Padding.PadToken != "" {
			sp.pad = f.Padding.PadToken
		}
	}
	return build(vocab, added, prefix, sp, cfg, opts)
}

// specials names the special tokens; an id, when known, wins over the name.
type specials struct {
	unk, cls, sep, pad  string
	clsID, sepID, padID *int64
}

// fromPostProcessor reads [CLS] and [SEP] from a TemplateProcessing or
// BertProcessing post-processor.
func (s *specials) fromPostProcessor(raw json.RawMessage) error {
	if isNull(raw) {
		return nil
	}
	var pp struct {
		Type   string `json:"type"`
		Sep    []any  `json:"sep"`
		Cls    []any  `json:"cls"`
		Single []struct {
			SpecialToken *struct {
				ID string `json:"id"`
			} `json:"SpecialToken"`
		} `json:"single"`
		SpecialTokens map[string]struct {
			IDs []int64 `json:"ids"`
		} `json:"special_tokens"`
	}
	if err := json.Unmarshal(raw, &pp); err != nil {
		return fmt.Errorf("parse post_processor: %w", err)
	}
	switch pp.Type {
	case "BertProcessing", "RobertaProcessing":
		pair := func(v []any, name string) (string, *int64, error) {
			if len(v) != 2 {
				return "", nil, fmt.Errorf("parse post_processor: %s is not [token, id]", name)
			}
			tok, ok1 := v[0].(string)
			id, ok2 := v[1].(float64)
			if !ok1 || !ok2 {
				return "", nil, fmt.Errorf("parse post_processor: %s is not [token, id]", name)
			}
			i := int64(id)
			return tok, &i, nil
		}
		var err error
		if s.cls, s.clsID, err = pair(pp.Cls, "cls"); err != nil {
			return err
		}
		if s.sep, s.sepID, err = pair(pp.Sep, "sep"); err != nil {
			return err
		}
	case "TemplateProcessing":
		var names []string
		for _, p := range pp.Single {
			if p.SpecialToken != nil {
				names = append(names, p.SpecialToken.ID)
			}
		}
		if len(names) == 0 {
			return nil
		}
		lookup := func(name string) (*int64, error) {
			st, ok := pp.SpecialTokens[name]
			if !ok || len(st.IDs) != 1 {
				return nil, fmt.Errorf("parse post_processor: special token %q needs exactly one id", name)
			}
			return &st.IDs[0], nil
		}
		var err error
		s.cls = names[0]
		if s.clsID, err = lookup(s.cls); err != nil {
			return err
		}
		s.sep = names[len(names)-1]
		if s.sepID, err = lookup(s.sep); err != nil {
			return err
		}
	}
	return nil
}

// tokenizerConfig is the subset of tokenizer_config.json used with vocab.txt.
type tokenizerConfig struct {
	DoLowerCase          *bool           `json:"do_lower_case"`
	StripAccents         *bool           `json:"strip_accents"`
	TokenizeChineseChars *bool           `json:"tokenize_chinese_chars"`
	UnkToken             json.RawMessage `json:"unk_token"`
	ClsToken             json.RawMessage `json:"cls_token"`
	SepToken             json.RawMessage `json:"sep_token"`
	PadToken             json.RawMessage `json:"pad_token"`
	MaskToken            json.RawMessage `json:"mask_token"`
}

// tokenName reads a special token given as a string or as an AddedToken
// object ({"content": ...}).
func tokenName(raw json.RawMessage, def string) (string, error) {
	if isNull(raw) {
		return def, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var obj struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil || obj.Content == "" {
		return "", fmt.Errorf("special token %s is neither a string nor {\"content\": ...}", raw)
	}
	return obj.Content, nil
}

func parseVocabTxt(data, cfgData []byte, opts []Option) (*Tokenizer, error) {
	t2 := true
	cfg := config{cleanText: &t2, chinese: &t2, lowercase: &t2}
	names := map[string]string{"unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]", "pad": "[PAD]", "mask": "[MASK]"}
	if cfgData != nil {
		var tc tokenizerConfig
		if err := json.Unmarshal(cfgData, &tc); err != nil {
			return nil, fmt.Errorf("parse tokenizer_config.json: %w", err)
		}
		if tc.DoLowerCase != nil {
			cfg.lowercase = tc.DoLowerCase
		}
		cfg.stripAccents = tc.StripAccents
		if tc.TokenizeChineseChars != nil {
			cfg.chinese = tc.TokenizeChineseChars
		}
		for key, raw := range map[string]json.RawMessage{"unk": tc.UnkToken, "cls": tc.ClsToken, "sep": tc.SepToken, "pad": tc.PadToken, "mask": tc.MaskToken} {
			name, err := tokenName(raw, names[key])
			if err != nil {
				return nil, fmt.Errorf("parse tokenizer_config.json: %w", err)
			}
			names[key] = name
		}
	}
	vocab := make(map[string]int64)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	n := int64(0)
	for sc.Scan() {
		// Like Hugging Face's WordPiece::read_file: trailing whitespace is
		// trimmed and a repeated token keeps its last line.
		vocab[strings.TrimRightFunc(sc.Text(), unicode.IsSpace)] = n
		n++
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read vocab: line %d: %w", n+1, err)
	}
	if n == 0 {
		return nil, errors.New("empty vocab")
	}
	// Hugging Face's BertTokenizerFast registers the special tokens as added
	// tokens, so their literal occurrences in the text are kept whole.
	var added []addedToken
	for _, key := range []string{"pad", "unk", "cls", "sep", "mask"} {
		if id, ok := vocab[names[key]]; ok {
			added = append(added, addedToken{content: names[key], id: id})
		}
	}
	sp := specials{unk: names["unk"], cls: names["cls"], sep: names["sep"], pad: names["pad"]}
	return build(vocab, added, "##", sp, cfg, opts)
}

// build assembles a Tokenizer and checks that the special tokens exist.
func build(vocab map[string]int64, added []addedToken, prefix string, sp specials, cfg config, opts []Option) (*Tokenizer, error) {
	for _, o := range opts {
		o(&cfg)
	}
	t := &Tokenizer{
		vocab:    make(map[string]int32, len(vocab)),
		cont:     make(map[string]int32),
		unkToken: sp.unk,
		prefix:   prefix,
		maxChars: 100,
	}
	deref := func(p *bool, def bool) bool {
		if p == nil {
			return def
		}
		return *p
	}
	t.cleanText = deref(cfg.cleanText, true)
	t.chinese = deref(cfg.chinese, true)
	t.lowercase = deref(cfg.lowercase, true)
	t.stripAccents = deref(cfg.stripAccents, t.lowercase)
	if cfg.maxChars != nil {
		t.maxChars = *cfg.maxChars
	}
	size := int64(0)
	for tok, id := range vocab {
		if id < 0 || id >= maxID {
			return nil, fmt.Errorf("vocab token %q: id %d out of range [0, %d)", tok, id, maxID)
		}
		size = max(size, id+1)
	}
	for _, a := range added {
		if a.id < 0 || a.id >= maxID {
			return nil, fmt.Errorf("added token %q: id %d out of range [0, %d)", a.content, a.id, maxID)
		}
		size = max(size, a.id+1)
	}
	t.tokens = make([]string, size)
	for tok, id := range vocab {
		t.vocab[tok] = int32(id)
		t.tokens[id] = tok
		t.maxLen = max(t.maxLen, len(tok))
		if rest, ok := strings.CutPrefix(tok, prefix); ok {
			t.cont[rest] = int32(id)
			t.maxContLen = max(t.maxContLen, len(rest))
		}
	}
	for _, a := range added {
		t.tokens[a.id] = a.content
	}
	t.added = newAddedTokens(added)

	find := func(role, name string, id *int64) (int64, error) {
		if id != nil {
			if *id < 0 || *id >= size {
				return 0, fmt.Errorf("%s token %q: id %d out of range", role, name, *id)
			}
			return *id, nil
		}
		if v, ok := vocab[name]; ok {
			return v, nil
		}
		for _, a := range added {
			if a.content == name {
				return a.id, nil
			}
		}
		return 0, fmt.Errorf("%s token %q is not in the vocabulary", role, name)
	}
	var err error
	if t.unk, err = find("unknown", sp.unk, nil); err != nil {
		return nil, err
	}
	if _, ok := vocab[sp.unk]; !ok {
		return nil, fmt.Errorf("unknown token %q is not in the model vocabulary", sp.unk)
	}
	if t.cls, err = find("classification", sp.cls, sp.clsID); err != nil {
		return nil, err
	}
	if t.sep, err = find("separator", sp.sep, sp.sepID); err != nil {
		return nil, err
	}
	if t.pad, err = find("padding", sp.pad, sp.padID); err != nil {
		return nil, err
	}
	if t.maxChars < 0 {
		return nil, fmt.Errorf("max_input_chars_per_word %d is negative", t.maxChars)
	}
	return t, nil
}
