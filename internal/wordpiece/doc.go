// Package wordpiece is a BERT WordPiece tokenizer in pure Go that produces
// exactly what Hugging Face tokenizers (the Rust library behind
// transformers' fast tokenizers) produces for the same configuration.
//
// # What it loads
//
// Load reads a Hugging Face tokenizer.json with a BertNormalizer (clean_text,
// handle_chinese_chars, strip_accents — null meaning "same as lowercase" —
// and lowercase), a BertPreTokenizer and a WordPiece model (vocab, unk_token,
// continuing_subword_prefix, max_input_chars_per_word), or a plain vocab.txt
// with the settings of tokenizer_config.json next to it (do_lower_case,
// strip_accents, tokenize_chinese_chars, special token names). The ids of
// [CLS] and [SEP] come from the post-processor when it names them, else from
// the vocabulary; [PAD] from the padding settings, else the vocabulary.
// Anything else (a BPE or Unigram model, another normalizer or
// pre-tokenizer, added tokens that are normalized or strip whitespace) is
// refused with an error naming the file, rather than tokenized differently.
// LoadDir picks tokenizer.json, else vocab.txt, in a directory; Files lists
// exactly the files it reads (package model hashes them into the version).
//
// # What Encode returns
//
// Encode returns the wordpieces of a text without special tokens, as
// encode(text, add_special_tokens=False) does, with four parallel views:
// ids and token strings; Words, the index of the pre-tokenized word each
// piece belongs to (Hugging Face's word_ids: words are split at whitespace,
// each punctuation character and each CJK ideograph is a word, and each
// literal occurrence of an added token such as "[SEP]" in the text is a word
// of its own); and offsets into the ORIGINAL text, before normalization.
// Chars are code-point offsets, equal to the offsets Hugging Face reports
// (offset_type "char"; its Node binding returns these too, counting a
// character outside the BMP as one, not as two UTF-16 units); Bytes are the
// same spans as byte offsets into the Go string. A piece of a character that
// normalization expanded (a CJK ideograph, "İ" lowercased, a decomposed
// accent) spans the whole original character; characters that normalization
// removes (control and format characters, stripped accents) belong to no
// piece unless they sit inside one. With strip_accents, Hugging Face hands
// out offsets by position after canonical reordering of combining marks
// (runs of marks are sorted by combining class and each output character
// takes the next input character's span), so a piece next to reordered marks
// may cover a neighbouring mark; this package reproduces that exactly. A
// word longer than
// max_input_chars_per_word code points, or one with a remainder that no
// vocabulary piece matches, becomes a single unknown token spanning the word.
//
// # How identity with Hugging Face is established
//
// The character classes follow the Rust crates Hugging Face uses, not Go's
// newer Unicode tables: tables.go lists the differences, found by
// TestCodePointSweep, which runs all 1,112,064 Unicode scalar values through
// the library (npm `tokenizers` 0.23.2) and compares. TestHuggingFaceDifferential
// encodes every JNLPBA train and devel document plus thousands of
// adversarial strings with both implementations, for a cased, an uncased and
// an unusual configuration (and the vocab.txt forms), and requires every id,
// token, word index and offset to be equal.
//
// # Performance
//
// A Tokenizer is immutable and safe for concurrent use. EncodeTo writes into
// a caller-owned Encoding and reuses its slices, so steady-state encoding
// does not allocate; vocabulary lookups index Go maps with byte slices of
// the normalized word (no string is built).
package wordpiece
