// Package model loads a token-classification model bundle and runs it on ONNX
// Runtime in fixed-shape [B, T] batches.
//
// A bundle is a directory laid out like a Hugging Face optimum export:
//
//	model.onnx             the graph: int64 inputs input_ids, attention_mask and
//	                       optionally token_type_ids, each [batch, seq]; one float
//	                       output logits [batch, seq, num_labels]
//	config.json            id2label (required), max_position_embeddings, and an
//	                       optional "nerstream" block ({"name", "max_length",
//	                       "decoding"})
//	tokenizer.json         Hugging Face tokenizer (or vocab.txt with an optional
//	                       tokenizer_config.json)
//	crf.json               optional: BIO transition scores for Viterbi decoding
//
// # Version
//
// The model version covers every input of the output and nothing else. It is
// the hex SHA-256 of a manifest (Bundle.Manifest): the line "nerstream model
// version 2", then one line "<name> <hex sha256>" per input, sorted by name:
//
//	config.json            the canonical JSON (keys sorted, no spaces) of the
//	                       fields LoadBundle reads: id2label, num_labels,
//	                       max_position_embeddings, nerstream.max_length and
//	                       nerstream.decoding (nerstream.name is blanked: the
//	                       name is in the output directory on its own)
//	model.onnx, crf.json   their bytes (crf.json when present)
//	tokenizer files        the bytes of the files the tokenizer loader reads:
//	                       tokenizer.json, else vocab.txt and, when present,
//	                       tokenizer_config.json
//
// So renamed labels, a new crf.json, tokenizer or decoding setting, or new
// weights each give a new version, and with it a new output directory and a
// new default consumer group; a README, MODEL_CARD.md or a descriptive
// config.json field (nerstream.trained_on, figures) keeps the version.
// Duplicate labels in id2label are refused.
//
// A Session owns one ONNX Runtime session with its input and output tensors
// allocated once at start-up and reused for every batch. Every Run has exactly
// the shape [B, T]: a partial last batch is padded by the caller, never
// reshaped, so the runtime never re-plans memory and GPU kernels see one shape.
// A broken bundle (missing file, unreadable graph, wrong input names, label
// count not matching the logits) is reported by LoadBundle or NewSession, never
// at the first real batch. NewSession reads the graph's declared inputs and
// outputs from the file's protobuf header (weights are skipped by length; a
// file that does not parse falls back to ONNX Runtime, whose error then names
// the problem), so a large graph is loaded once, not twice.
package model
