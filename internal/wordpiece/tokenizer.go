package wordpiece

import (
	"fmt"
	"sort"
)

// Tokenizer is a BERT WordPiece tokenizer. It is immutable after loading and
// safe for concurrent use; each goroutine should use its own Encoding with
// EncodeTo.
type Tokenizer struct {
	// vocab maps a full token to its id; cont maps a continuation token with
	// its prefix stripped ("##ing" → "ing") to its id, so that lookups over
	// substrings of the input never build a string.
	vocab map[string]int32
	cont  map[string]int32
	// maxLen and maxContLen bound the byte length of a vocab / cont key.
	maxLen, maxContLen int
	tokens             []string // id → token (model vocab and added tokens)

	unkToken string
	prefix   string
	maxChars int

	cls, sep, pad, unk int64

	cleanText, chinese, stripAccents, lowercase bool

	added addedTokens
}

// Option changes a setting while loading. Options are applied after the
// file's own configuration, so they override it.
type Option func(*config)

// config holds the settings a Tokenizer is built from.
type config struct {
	cleanText    *bool
	chinese      *bool
	stripAccents *bool // nil: follow lowercase (as Hugging Face does)
	lowercase    *bool
	maxChars     *int
}

// WithLowercase sets whether text is lowercased (BertNormalizer "lowercase",
// tokenizer_config.json "do_lower_case").
func WithLowercase(v bool) Option { return func(c *config) { c.lowercase = &v } }

// WithMaxInputCharsPerWord sets the length (in code points, after
// normalization) above which a whole word becomes the unknown token.
func WithMaxInputCharsPerWord(n int) Option { return func(c *config) { c.maxChars = &n } }

// CLS returns the id of the classification token ([CLS]).
func (t *Tokenizer) CLS() int64 { return t.cls }

// SEP returns the id of the separator token ([SEP]).
func (t *Tokenizer) SEP() int64 { return t.sep }

// Pad returns the id of the padding token ([PAD]).
func (t *Tokenizer) Pad() int64 { return t.pad }

// Unk returns the id of the unknown token ([UNK]).
func (t *Tokenizer) Unk() int64 { return t.unk }

// VocabSize returns the number of ids, including added tokens: one more than
// the largest id (Hugging Face's get_vocab_size(with_added_tokens=true) when
// ids are dense).
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// Lowercase reports whether the tokenizer lowercases its input.
func (t *Tokenizer) Lowercase() bool { return t.lowercase }

// Token returns the token string of id, or "" when id is out of range or
// unused.
func (t *Tokenizer) Token(id int64) string {
	if id < 0 || id >= int64(len(t.tokens)) {
		return ""
	}
	return t.tokens[id]
}

// ID returns the id of token (a model vocabulary entry or an added token) and
// whether it exists.
func (t *Tokenizer) ID(token string) (int64, bool) {
	if id, ok := t.vocab[token]; ok {
		return int64(id), true
	}
	for _, a := range t.added.list {
		if a.content == token {
			return a.id, true
		}
	}
	return 0, false
}

// addedToken is a token of the added vocabulary (special tokens such as
// [CLS]); the input is split on its literal occurrences before normalization.
type addedToken struct {
	content string
	id      int64
}

// addedTokens finds added tokens in the original text, leftmost-longest like
// Hugging Face's aho-corasick matcher.
type addedTokens struct {
	list  []addedToken // longest content first
	first [256]bool    // first bytes of contents
}

func newAddedTokens(list []addedToken) addedTokens {
	a := addedTokens{list: append([]addedToken(nil), list...)}
	sort.SliceStable(a.list, func(i, j int) bool { return len(a.list[i].content) > len(a.list[j].content) })
	for _, tok := range a.list {
		a.first[tok.content[0]] = true
	}
	return a
}

// match returns the added token starting at s[i:], if any.
func (a *addedTokens) match(s string, i int) (addedToken, bool) {
	if len(a.list) == 0 || !a.first[s[i]] {
		return addedToken{}, false
	}
	for _, tok := range a.list {
		if len(s)-i >= len(tok.content) && s[i:i+len(tok.content)] == tok.content {
			return tok, true
		}
	}
	return addedToken{}, false
}

func (t *Tokenizer) String() string {
	return fmt.Sprintf("wordpiece.Tokenizer{vocab: %d, lowercase: %v, strip_accents: %v}", len(t.tokens), t.lowercase, t.stripAccents)
}
