// Package eval scores predicted entity chunks against gold annotations.
//
// Two views are supported:
//
//   - Documents with gold character offsets (JNLPBA *.docs.jsonl): exact-span
//     precision, recall and F1 per label and micro-averaged, plus a partial
//     match F1 where a prediction counts if it overlaps a gold entity of the
//     same label (each gold entity matched at most once).
//   - Pre-tokenized IOB2 sentences (token<TAB>tag): chunks are extracted from
//     the gold and predicted tag sequences with conlleval's rules and scored
//     exactly, so the numbers are comparable to conlleval's output.
package eval
