package ner

import (
	"context"
	"sort"
	"time"

	"github.com/nerstream/nerstream/internal/segment"
	"github.com/nerstream/nerstream/internal/wordpiece"
)

// prepare segments and tokenizes documents (tokenize) and packs their
// sentences into windows and batches (packer), in input order.
func (a *Annotator) prepare(ctx context.Context, in <-chan Doc, outc chan<- item, free chan *batch) error {
	p := &packer{a: a, ctx: ctx, outc: outc, free: free, capTok: a.T - 2}
	var (
		tk     tokenizer
		group  []*docState // PackRecord: documents waiting for their group to end
		linger <-chan time.Time
		timer  *time.Timer
	)
	endGroup := func() error {
		if err := p.packGroup(group); err != nil {
			return err
		}
		for _, ds := range group {
			if err := p.send(item{doc: ds, total: ds.windows}); err != nil {
				return err
			}
		}
		clear(group)
		group = group[:0]
		return nil
	}
	for {
		var d Doc
		var ok bool
		select {
		case d, ok = <-in:
		case <-linger:
			// Flush packed windows only: a PackRecord group waits for its
			// boundary, so that its packing never depends on timing.
			linger = nil
			if err := p.flush(); err != nil {
				return err
			}
			continue
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		if !ok {
			if err := endGroup(); err != nil {
				return err
			}
			return p.flush()
		}
		t0 := time.Now()
		ds := tk.tokenize(a, d)
		a.addTime(&a.stats.PrepareTime, time.Since(t0))
		if a.opts.Packing == PackRecord {
			if d.boundary {
				if err := endGroup(); err != nil {
					return err
				}
				if err := p.send(item{doc: ds}); err != nil {
					return err
				}
			} else if group = append(group, ds); len(group) >= RecordDocs {
				if err := endGroup(); err != nil {
					return err
				}
			}
		} else {
			if err := p.packDoc(ds); err != nil {
				return err
			}
			if err := p.send(item{doc: ds, total: ds.windows}); err != nil {
				return err
			}
		}
		if a.opts.Linger > 0 && p.pending() {
			if timer == nil {
				timer = time.NewTimer(a.opts.Linger)
			} else {
				timer.Reset(a.opts.Linger)
			}
			linger = timer.C
		}
	}
}

// tokenizer holds the reusable buffers of sentence splitting and encoding.
type tokenizer struct {
	enc   wordpiece.Encoding
	sents []segment.Sentence
}

// tokenize splits d into sentences and encodes each one.
func (tk *tokenizer) tokenize(a *Annotator, d Doc) *docState {
	ds := &docState{doc: d}
	tk.sents = segment.SplitTo(tk.sents[:0], d.Text)
	for si, s := range tk.sents {
		a.tok.EncodeTo(&tk.enc, d.Text[s.ByteBegin:s.ByteEnd])
		enc := &tk.enc
		n := len(enc.IDs)
		ss := &sentState{doc: ds, index: si, byteBase: s.ByteBegin, charBase: s.Begin,
			ids: append([]int64(nil), enc.IDs...), words: append([]int(nil), enc.Words...),
			chars: append([]wordpiece.Span(nil), enc.Chars...), bytes: append([]wordpiece.Span(nil), enc.Bytes...),
			logits: make([]float32, n*a.L), ctx: make([]int32, n)}
		for i := range ss.ctx {
			ss.ctx[i] = -1
		}
		ds.sents = append(ds.sents, ss)
		ds.pieces += n
		if n > 0 {
			ds.words += enc.Words[n-1] + 1
		}
	}
	return ds
}

// packer places sentence pieces into windows ([CLS] … [SEP], at most capTok
// wordpieces) and windows into the rows of fixed [B,T] batches, which it
// sends to the model stage. Every batch is exactly B rows; unused rows are
// all padding.
type packer struct {
	a      *Annotator
	ctx    context.Context
	outc   chan<- item
	free   chan *batch
	capTok int
	cur    *batch // the batch being filled (nil: none)
	win    window // the window being filled
}

func (p *packer) send(it item) error {
	select {
	case p.outc <- it:
		return nil
	case <-p.ctx.Done():
		return context.Cause(p.ctx)
	}
}

// pending reports whether a window or batch is partly filled.
func (p *packer) pending() bool {
	return len(p.win.pieces) > 0 || (p.cur != nil && len(p.cur.rows) > 0)
}

// flush closes the open window and sends the open batch, padded.
func (p *packer) flush() error {
	if err := p.closeWindow(); err != nil {
		return err
	}
	return p.flushBatch()
}

func (p *packer) flushBatch() error {
	a, cur := p.a, p.cur
	if cur == nil || len(cur.rows) == 0 {
		return nil
	}
	for r := len(cur.rows); r < a.B; r++ { // padding rows: all-zero ids and mask
		clear(cur.ids[r*a.T : (r+1)*a.T])
		clear(cur.mask[r*a.T : (r+1)*a.T])
	}
	p.cur = nil
	return p.send(item{b: cur})
}

// closeWindow writes the open window into the next row of the batch.
func (p *packer) closeWindow() error {
	a := p.a
	if len(p.win.pieces) == 0 {
		return nil
	}
	if p.cur == nil {
		select {
		case p.cur = <-p.free:
			p.cur.rows, p.cur.used = p.cur.rows[:0], 0
		case <-p.ctx.Done():
			return context.Cause(p.ctx)
		}
	}
	cur := p.cur
	r := len(cur.rows)
	ids, mask := cur.ids[r*a.T:(r+1)*a.T], cur.mask[r*a.T:(r+1)*a.T]
	clear(ids)
	clear(mask)
	ids[0] = a.tok.CLS()
	n := 1
	for _, pc := range p.win.pieces {
		n += copy(ids[n:], pc.s.ids[pc.from:pc.to])
	}
	ids[n] = a.tok.SEP()
	n++
	for i := range n {
		mask[i] = 1
	}
	cur.used += n
	cur.rows = append(cur.rows, window{pieces: append([]piece(nil), p.win.pieces...), n: p.win.n})
	p.win.pieces, p.win.n = p.win.pieces[:0], 0
	if len(cur.rows) == a.B {
		return p.flushBatch()
	}
	return nil
}

// add appends pc to the open window, closing it first when pc does not fit.
// A document counts each window it has pieces in (pieces of one document
// are kept together within a window).
func (p *packer) add(pc piece) error {
	n := pc.to - pc.from
	if p.win.n+n > p.capTok {
		if err := p.closeWindow(); err != nil {
			return err
		}
	}
	if d := pc.s.doc; len(p.win.pieces) == 0 || p.win.pieces[len(p.win.pieces)-1].s.doc != d {
		d.windows++
	}
	p.win.pieces = append(p.win.pieces, pc)
	p.win.n += n
	return nil
}

// longSentence covers a sentence longer than a window with overlapping full
// windows of its own (Overlap wordpieces shared by neighbours).
func (p *packer) longSentence(ss *sentState) error {
	if err := p.closeWindow(); err != nil {
		return err
	}
	n := len(ss.ids)
	stride := p.capTok - p.a.opts.Overlap
	for from := 0; ; from += stride {
		if from+p.capTok >= n {
			from = n - p.capTok
		}
		to := from + p.capTok
		if err := p.add(piece{s: ss, from: from, to: to, openLeft: from > 0, openRgt: to < n}); err != nil {
			return err
		}
		if err := p.closeWindow(); err != nil {
			return err
		}
		if to == n {
			return nil
		}
	}
}

// packDoc packs one document by the sentence, document or stream rule.
func (p *packer) packDoc(ds *docState) error {
	mode := p.a.opts.Packing
	for _, ss := range ds.sents {
		n := len(ss.ids)
		if n == 0 {
			continue
		}
		if mode == PackSentence || (mode == PackDocument && len(p.win.pieces) > 0 && p.win.pieces[0].s.doc != ds) {
			if err := p.closeWindow(); err != nil {
				return err
			}
		}
		if n > p.capTok {
			if err := p.longSentence(ss); err != nil {
				return err
			}
			continue
		}
		if err := p.add(piece{s: ss, from: 0, to: n}); err != nil {
			return err
		}
		if mode == PackSentence {
			if err := p.closeWindow(); err != nil {
				return err
			}
		}
	}
	if mode == PackDocument {
		return p.closeWindow()
	}
	return nil
}

// packGroup packs the sentences of a PackRecord group first-fit decreasing:
// longest first, each into the first window with room. Within a window the
// pieces keep document order. The result depends on the group alone.
func (p *packer) packGroup(group []*docState) error {
	type ref struct {
		s   *sentState
		seq int // position in the group's sentence order
	}
	var short []ref
	for _, ds := range group {
		for _, ss := range ds.sents {
			switch n := len(ss.ids); {
			case n == 0:
			case n > p.capTok:
				if err := p.longSentence(ss); err != nil {
					return err
				}
			default:
				short = append(short, ref{ss, len(short)})
			}
		}
	}
	sort.SliceStable(short, func(i, j int) bool { return len(short[i].s.ids) > len(short[j].s.ids) })
	type bin struct {
		refs []ref
		n    int
	}
	var bins []bin
	for _, r := range short {
		n, k := len(r.s.ids), 0
		for k < len(bins) && bins[k].n+n > p.capTok {
			k++
		}
		if k == len(bins) {
			bins = append(bins, bin{})
		}
		bins[k].refs = append(bins[k].refs, r)
		bins[k].n += n
	}
	if err := p.closeWindow(); err != nil {
		return err
	}
	for _, b := range bins {
		sort.Slice(b.refs, func(i, j int) bool { return b.refs[i].seq < b.refs[j].seq })
		for _, r := range b.refs {
			if err := p.add(piece{s: r.s, from: 0, to: len(r.s.ids)}); err != nil {
				return err
			}
		}
		if err := p.closeWindow(); err != nil {
			return err
		}
	}
	return nil
}
