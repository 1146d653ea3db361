// Package ner turns documents into entity chunks with a token-classification
// model: it packs sentences into fixed-length wordpiece windows, fills fixed
// [B, T] batches, runs them, and decodes BIO labels into chunks with
// code-point offsets and confidences.
//
// # Windows
//
// A window is [CLS] w1 … wn [SEP] with n ≤ T-2 wordpieces. Documents are
// split into sentences (package segment) and tokenized per sentence (package
// wordpiece). Whole sentences are packed into windows according to the
// Packing mode: one sentence per window, consecutive sentences of one document
// per window, consecutive sentences of consecutive documents, or (the
// default, PackRecord) the sentences of a group of documents first-fit
// decreasing by length — a group is the documents between two [Ordered]
// markers (a Kafka record in `worker run`), at most RecordDocs of them, so
// windows are nearly full and a document's windows depend on its group
// alone. The packer type does the placing; prepare feeds it. A sentence
// longer than T-2 wordpieces is cut into overlapping windows (Overlap
// wordpieces shared by neighbours); each wordpiece takes its logits from the
// window in which it has the most context on both sides. No wordpiece is ever
// dropped: decoding fails loudly if one was not covered.
//
// # Batches
//
// Windows of many documents fill the B rows of a batch; the last batch (or a
// batch flushed after Linger with no new input) is padded with empty rows,
// never shrunk, so the model always sees exactly [B, T].
//
// # Decoding
//
// Word labels come from the word's wordpieces (Aggregation: first, average or
// max of the softmax), then BIO decoding like Spark NLP's NerConverter: a chunk
// starts at B-X, or at an I-X that does not continue an X chunk; it extends
// over following I-X words. With DecodeViterbi (the default) the label
// sequence is the most probable one that is valid BIO (no O→I-X, B-X→I-Y,
// I-X→I-Y) — or the bundle's CRF transitions when it ships them. A chunk's
// confidence is the mean probability of its words' labels. Label whitelists
// and a minimum confidence filter the output.
//
// The pipeline runs in three goroutines joined by bounded channels —
// prepare (segment, tokenize, pack), model, decode — so tokenizing batch n+1
// and decoding batch n-1 overlap inference on batch n. Results come out in
// input order. With a ConcurrentRunner (a Pool of sessions) the model stage
// keeps Concurrency() batches running at once and still hands them on in
// packing order, so output never depends on which batch finished first.
package ner
