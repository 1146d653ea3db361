package pubmed

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/nerstream/nerstream/internal/document"
)

const header = `<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">
<PubmedArticleSet>
`

func set(records ...string) string {
	return header + strings.Join(records, "\n") + "\n</PubmedArticleSet>\n"
}

// article builds a PubmedArticle with realistic surrounding elements.
func article(pmid, version, title, abstract string) string {
	v := ""
	if version != "" {
		v = ` Version="` + version + `"`
	}
	abs := ""
	if abstract != "" {
		abs = "<Abstract>" + abstract + "<CopyrightInformation>(c) Someone</CopyrightInformation></Abstract>\n"
	}
	return `<PubmedArticle>
  <MedlineCitation Status="MEDLINE" Owner="NLM">
    <PMID` + v + `>` + pmid + `</PMID>
    <DateCompleted><Year>1990</Year><Month>05</Month><Day>01</Day></DateCompleted>
    <Article PubModel="Print">
      <Journal><ISSN IssnType="Print">0000-0000</ISSN><Title>J Test</Title></Journal>
      <ArticleTitle>` + title + `</ArticleTitle>
      <Pagination><MedlinePgn>1-10</MedlinePgn></Pagination>
      ` + abs + `<AuthorList CompleteYN="Y"><Author ValidYN="Y"><LastName>Doe</LastName><ForeName>J</ForeName></Author></AuthorList>
      <Language>eng</Language>
    </Article>
    <MedlineJournalInfo><Country>United States</Country></MedlineJournalInfo>
    <CommentsCorrectionsList><CommentsCorrections RefType="ErratumIn"><RefSource>J Test 1991</RefSource><PMID Version="1">999</PMID></CommentsCorrections></CommentsCorrectionsList>
    <OtherAbstract Type="Publisher" Language="fre"><AbstractText>Résumé ignoré.</AbstractText></OtherAbstract>
  </MedlineCitation>
  <PubmedData>
    <ArticleIdList><ArticleId IdType="pubmed">` + pmid + `</ArticleId></ArticleIdList>
    <ReferenceList><Reference><Citation>Other paper.</Citation><ArticleIdList><ArticleId IdType="pubmed">12</ArticleId></ArticleIdList></Reference></ReferenceList>
  </PubmedData>
</PubmedArticle>`
}

func parseAll(t *testing.T, xmlText string, opts ...Option) ([]Record, Stats, []document.Reject, error) {
	t.Helper()
	var recs []Record
	var rej bytes.Buffer
	opts = append([]Option{WithRejects(&rej)}, opts...)
	st, err := Parse(context.Background(), strings.NewReader(xmlText), "test.xml", func(r Record) error {
		recs = append(recs, r)
		return nil
	}, opts...)
	var rejects []document.Reject
	for _, l := range strings.Split(strings.TrimSpace(rej.String()), "\n") {
		if l == "" {
			continue
		}
		var r document.Reject
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("reject line %q: %v", l, err)
		}
		rejects = append(rejects, r)
	}
	return recs, st, rejects, err
}

func TestParseElements(t *testing.T) {
	tests := []struct {
		name   string
		record string
		want   []document.Document
		kind   Kind
	}{
		{"plain article",
			article("101", "1", "A title.", "<AbstractText>First sentence. Second one.</AbstractText>"),
			[]document.Document{{ID: "101", Version: 1, Title: "A title.", Text: "First sentence. Second one.", Op: document.OpUpsert}}, KindArticle},
		{"structured abstract",
			article("102", "2", "Structured.", `<AbstractText Label="BACKGROUND" NlmCategory="BACKGROUND">Why.</AbstractText>
        <AbstractText Label="METHODS" NlmCategory="METHODS">How.</AbstractText>
        <AbstractText Label="CONCLUSIONS" NlmCategory="CONCLUSIONS">So.</AbstractText>`),
			[]document.Document{{ID: "102", Version: 2, Title: "Structured.", Text: "BACKGROUND:\nWhy.\nMETHODS:\nHow.\nCONCLUSIONS:\nSo.", Op: document.OpUpsert}}, KindArticle},
		{"unlabelled sections",
			article("103", "1", "T", `<AbstractText>One.</AbstractText><AbstractText>Two.</AbstractText>`),
			[]document.Document{{ID: "103", Version: 1, Title: "T", Text: "One.\nTwo.", Op: document.OpUpsert}}, KindArticle},
		{"inline markup flattened",
			article("104", "1", `Role of <i>NF-kappa B</i> in CD4<sup>+</sup> T cells`,
				`<AbstractText>Ca<sup>2+</sup> and NH<sub>2</sub> with <b>bold</b>, <u>under</u> and <i>nested <b>deep</b></i> text.</AbstractText>`),
			[]document.Document{{ID: "104", Version: 1, Title: "Role of NF-kappa B in CD4+ T cells", Text: "Ca2+ and NH2 with bold, under and nested deep text.", Op: document.OpUpsert}}, KindArticle},
		{"mathml flattened",
			article("105", "1", "Math", `<AbstractText>Let <mml:math xmlns:mml="http://www.w3.org/1998/Math/MathML"><mml:msub><mml:mi>k</mml:mi><mml:mn>1</mml:mn></mml:msub></mml:math> vary.</AbstractText>`),
			[]document.Document{{ID: "105", Version: 1, Title: "Math", Text: "Let k1 vary.", Op: document.OpUpsert}}, KindArticle},
		{"entities",
			article("106", "1", "A &lt; B &amp; C &gt; D &#946;-cells &#x3b1;",
				`<AbstractText>x&nbsp;y &eacute;t&eacute; &alpha; &quot;q&quot; &apos;a&apos; &unknown; 5 &lt; 6</AbstractText>`),
			[]document.Document{{ID: "106", Version: 1, Title: "A < B & C > D β-cells α", Text: "x\u00a0y été α \"q\" 'a' &unknown; 5 < 6", Op: document.OpUpsert}}, KindArticle},
		{"cdata and whitespace",
			article("107", "1", "  Spaced\n title  ", "<AbstractText>\n  Line one\nline\ttwo <![CDATA[a < b]]>  \n</AbstractText>"),
			[]document.Document{{ID: "107", Version: 1, Title: "Spaced  title", Text: "Line one line two a < b", Op: document.OpUpsert}}, KindArticle},
		{"no abstract",
			article("108", "1", "Only a title.", ""),
			[]document.Document{{ID: "108", Version: 1, Title: "Only a title.", Op: document.OpUpsert}}, KindArticle},
		{"no version attribute",
			article("109", "", "T", "<AbstractText>A.</AbstractText>"),
			[]document.Document{{ID: "109", Title: "T", Text: "A.", Op: document.OpUpsert}}, KindArticle},
		{"self-closing empty section",
			article("110", "1", "T", `<AbstractText Label="EMPTY"/><AbstractText>Text.</AbstractText>`),
			[]document.Document{{ID: "110", Version: 1, Title: "T", Text: "EMPTY:\n\nText.", Op: document.OpUpsert}}, KindArticle},
		{"book chapter",
			`<PubmedBookArticle>
  <BookDocument>
    <PMID Version="1">20301295</PMID>
    <ArticleIdList><ArticleId IdType="bookaccession">NBK1116</ArticleId></ArticleIdList>
    <Book><Publisher><PublisherName>Univ</PublisherName></Publisher><BookTitle book="gene">GeneReviews<sup>®</sup></BookTitle></Book>
    <ArticleTitle book="gene" part="cf">Cystic <i>Fibrosis</i></ArticleTitle>
    <Language>eng</Language>
    <Abstract><AbstractText Label="CLINICAL CHARACTERISTICS">CF affects lungs.</AbstractText><AbstractText Label="DIAGNOSIS">By sweat test.</AbstractText></Abstract>
    <Sections><Section><SectionTitle>Summary</SectionTitle></Section></Sections>
  </BookDocument>
  <PubmedBookData><History/><PublicationStatus>ppublish</PublicationStatus></PubmedBookData>
</PubmedBookArticle>`,
			[]document.Document{{ID: "20301295", Version: 1, Title: "Cystic Fibrosis", Text: "CLINICAL CHARACTERISTICS:\nCF affects lungs.\nDIAGNOSIS:\nBy sweat test.", Op: document.OpUpsert}}, KindBookArticle},
		{"whole book uses BookTitle",
			`<PubmedBookArticle><BookDocument><PMID Version="1">21</PMID><Book><BookTitle book="x">The <i>Book</i></BookTitle></Book><Abstract><AbstractText>About it.</AbstractText></Abstract></BookDocument></PubmedBookArticle>`,
			[]document.Document{{ID: "21", Version: 1, Title: "The Book", Text: "About it.", Op: document.OpUpsert}}, KindBookArticle},
		{"delete citation",
			`<DeleteCitation>
  <PMID Version="1">301</PMID>
  <PMID Version="2">302</PMID>
  <PMID Version="1"> 303 </PMID>
</DeleteCitation>`,
			[]document.Document{{ID: "301", Version: 1, Op: document.OpDelete}, {ID: "302", Version: 2, Op: document.OpDelete}, {ID: "303", Version: 1, Op: document.OpDelete}}, KindDelete},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, gz := range []bool{false, true} {
				input := set(tt.record)
				var recs []Record
				var st Stats
				var rejects []document.Reject
				var err error
				if gz {
					var buf bytes.Buffer
					w := gzip.NewWriter(&buf)
					w.Write([]byte(input))
					w.Close()
					recs, st, rejects, err = parseAll(t, buf.String())
					if !st.Gzip {
						t.Error("gzip not detected")
					}
				} else {
					recs, st, rejects, err = parseAll(t, input)
				}
				if err != nil || len(rejects) > 0 {
					t.Fatalf("err %v, rejects %+v", err, rejects)
				}
				if len(recs) != len(tt.want) {
					t.Fatalf("%d records, want %d: %+v", len(recs), len(tt.want), recs)
				}
				for i, r := range recs {
					if r.Doc != tt.want[i] {
						t.Errorf("record %d:\n got %#v\nwant %#v", i, r.Doc, tt.want[i])
					}
					if r.Kind != tt.kind || r.Index != int64(i) {
						t.Errorf("record %d: kind %v index %d", i, r.Kind, r.Index)
					}
					if r.Line < 4 || r.Offset < int64(len(header)) {
						t.Errorf("record %d: position line %d offset %d", i, r.Line, r.Offset)
					}
				}
				if st.Bytes != int64(len(input)) || st.Records != int64(len(tt.want)) {
					t.Errorf("stats %+v (input %d bytes)", st, len(input))
				}
			}
		})
	}
}

// TestParsePositions checks Index, Offset and Line against the input text.
func TestParsePositions(t *testing.T) {
	input := set(article("1", "1", "A", "<AbstractText>a</AbstractText>"),
		`<PubmedBookArticle><BookDocument><PMID Version="1">2</PMID><ArticleTitle>B</ArticleTitle></BookDocument></PubmedBookArticle>`,
		article("3", "1", "C", "<AbstractText>c</AbstractText>"),
		"<DeleteCitation>\n<PMID Version=\"1\">4</PMID><PMID Version=\"1\">5</PMID>\n</DeleteCitation>")
	recs, st, _, err := parseAll(t, input)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 5 || st.Articles != 2 || st.BookArticles != 1 || st.Deletes != 2 {
		t.Fatalf("records %d stats %+v", len(recs), st)
	}
	for i, r := range recs {
		if r.Index != int64(i) {
			t.Errorf("record %d has index %d", i, r.Index)
		}
		tag := "<" + r.Kind.String()
		if r.Kind == KindDelete {
			tag = "<PMID"
		}
		if !strings.HasPrefix(input[r.Offset:], tag) {
			t.Errorf("record %d offset %d points at %q", i, r.Offset, input[r.Offset:min(int64(len(input)), r.Offset+20)])
		}
		if want := int64(strings.Count(input[:r.Offset], "\n") + 1); r.Line != want {
			t.Errorf("record %d line %d, want %d", i, r.Line, want)
		}
	}
}

func TestParseRejectsBadRecords(t *testing.T) {
	input := set(
		article("1", "1", "Good", "<AbstractText>ok</AbstractText>"),
		`<PubmedArticle><MedlineCitation><Article><ArticleTitle>No PMID</ArticleTitle></Article></MedlineCitation></PubmedArticle>`,
		article("12a", "1", "Bad PMID", ""),
		article("13", "x", "Bad version", ""),
		article("14", "1", "Too long", "<AbstractText>"+strings.Repeat("long ", 100)+"</AbstractText>"),
		"<DeleteCitation><PMID>15</PMID><PMID>oops</PMID></DeleteCitation>",
		article("16", "1", "Good too", "<AbstractText>fine</AbstractText>"),
	)
	recs, st, rejects, err := parseAll(t, input, WithMaxDocBytes(200))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, fmt.Sprint(r.Doc.ID, "@", r.Index))
	}
	if got := strings.Join(ids, ","); got != "1@0,15@5,16@7" {
		t.Errorf("records %s", got)
	}
	want := []struct {
		index int64
		id    string
		msg   string
	}{{1, "", "missing PMID"}, {2, "12a", "not a number"}, {3, "13", "Version attribute"}, {4, "14", "exceed 200 bytes"}, {6, "oops", "not a number"}}
	if len(rejects) != len(want) || st.Rejected != int64(len(want)) {
		t.Fatalf("rejects %+v, stats %+v", rejects, st)
	}
	for i, w := range want {
		r := rejects[i]
		if r.Index != w.index || r.ID != w.id || !strings.Contains(r.Error, w.msg) || r.File != "test.xml" || r.Line == 0 || r.Offset == 0 {
			t.Errorf("reject %d = %+v, want %+v", i, r, w)
		}
	}
}

func TestParseBrokenXMLRecovers(t *testing.T) {
	good := func(id string) string { return article(id, "1", "T"+id, "<AbstractText>A"+id+"</AbstractText>") }
	tests := []struct {
		name       string
		records    []string
		wantIDs    string
		wantRejIdx []int64
	}{
		{"mismatched end tag", []string{good("1"), strings.Replace(good("2"), "</AbstractText>", "</Abstract>", 1), good("3")}, "1,3", []int64{1}},
		{"bad syntax inside", []string{good("1"), strings.Replace(good("2"), "<ArticleTitle>", "<ArticleTitle <<", 1), good("3")}, "1,3", []int64{1}},
		{"unclosed record", []string{good("1"), good("2")[:strings.Index(good("2"), "<Abstract>")], good("3"), good("4")}, "1,3,4", []int64{1}},
		{"garbage between records", []string{good("1"), "</Oops>junk & < stuff", good("2")}, "1,2", []int64{1}},
		{"two broken in a row", []string{strings.Replace(good("1"), "</PMID>", "</X>", 1), strings.Replace(good("2"), "</Year>", "</Y>", 1), good("3")}, "3", []int64{0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := set(tt.records...)
			recs, st, rejects, err := parseAll(t, input)
			if err != nil {
				t.Fatalf("err %v; rejects %+v", err, rejects)
			}
			var ids []string
			for _, r := range recs {
				ids = append(ids, r.Doc.ID)
				if !strings.HasPrefix(input[r.Offset:], "<PubmedArticle>") {
					t.Errorf("record %s offset %d wrong after recovery", r.Doc.ID, r.Offset)
				}
				if want := int64(strings.Count(input[:r.Offset], "\n") + 1); r.Line != want {
					t.Errorf("record %s line %d, want %d", r.Doc.ID, r.Line, want)
				}
				if r.Doc.Text != "A"+r.Doc.ID {
					t.Errorf("record %s text %q", r.Doc.ID, r.Doc.Text)
				}
			}
			if got := strings.Join(ids, ","); got != tt.wantIDs {
				t.Errorf("ids %s, want %s", got, tt.wantIDs)
			}
			if len(rejects) != len(tt.wantRejIdx) {
				t.Fatalf("rejects %+v", rejects)
			}
			var lost int64
			for i, r := range rejects {
				if r.Index != tt.wantRejIdx[i] || r.LostBytes <= 0 || !strings.Contains(r.Error, "broken XML") {
					t.Errorf("reject %+v", r)
				}
				lost += r.LostBytes
			}
			if st.LostBytes != lost || st.Resyncs != int64(len(rejects)) {
				t.Errorf("stats %+v, lost %d", st, lost)
			}
		})
	}
}

func TestParseUnrecoverable(t *testing.T) {
	good := article("1", "1", "T", "<AbstractText>A</AbstractText>")
	full := set(good, article("2", "1", "T2", "<AbstractText>B</AbstractText>"))
	cut := strings.Index(full, "<PMID Version=\"1\">2")
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte(full))
	w.Close()
	corrupt := bytes.Clone(gz.Bytes())
	corrupt[len(corrupt)/2] ^= 0xff
	tests := []struct {
		name     string
		input    string
		wantRecs int
		msg      string
		lost     bool
	}{
		{"truncated mid-record", full[:cut], 1, "truncated input", true},
		{"truncated mid-tag", full[:cut+3], 1, "no later record", true},
		{"truncated after a record", full[:strings.LastIndex(full, "</PubmedArticleSet>")], 2, "missing </PubmedArticleSet>", false},
		{"truncated gzip", gz.String()[:gz.Len()-30], 1, "unexpected EOF", true},
		{"corrupt gzip", string(corrupt), -1, "", true},
		{"not xml", "hello world", 0, "", false},
		{"wrong root", `<?xml version="1.0"?><html><body/></html>`, 0, "not a PubMed file", false},
		{"empty", "", 0, "no PubmedArticleSet", false},
		{"bad gzip header", "\x1f\x8b\x00garbage", 0, "gzip header", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, st, rejects, err := parseAll(t, tt.input)
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v (%T), want *FileError; records %d", err, err, len(recs))
			}
			if tt.wantRecs >= 0 && len(recs) != tt.wantRecs {
				t.Errorf("%d records, want %d", len(recs), tt.wantRecs)
			}
			if !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), "test.xml") {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
			if tt.lost && fe.LostBytes <= 0 {
				t.Errorf("no lost bytes reported: %+v", fe)
			}
			if len(rejects) == 0 || !strings.Contains(rejects[len(rejects)-1].Error, "stopped reading") {
				t.Errorf("unrecoverable error not written to rejects: %+v", rejects)
			}
			if st.LostBytes < fe.LostBytes {
				t.Errorf("stats lost %d < %d", st.LostBytes, fe.LostBytes)
			}
		})
	}
}

func TestParseCallbackAndContext(t *testing.T) {
	input := set(article("1", "1", "A", ""), article("2", "1", "B", ""))
	stop := errors.New("stop")
	n := 0
	_, err := Parse(context.Background(), strings.NewReader(input), "f.xml", func(Record) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 || !strings.Contains(err.Error(), "f.xml: record 0 (PMID 1)") {
		t.Errorf("callback error: %v after %d", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Parse(ctx, strings.NewReader(input), "f.xml", func(Record) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(set(article("1", "1", "T <i>x</i>", `<AbstractText Label="A">b &amp; c</AbstractText>`))))
	f.Add([]byte(set("<DeleteCitation><PMID Version=\"1\">5</PMID></DeleteCitation>")))
	f.Add([]byte(set(`<PubmedBookArticle><BookDocument><PMID>3</PMID><Book><BookTitle>B</BookTitle></Book></BookDocument></PubmedBookArticle>`)))
	f.Add([]byte(set(article("1", "1", "A", ""), "<PubmedArticle><MedlineCitation><PMID>2</PMID></Medline", article("3", "1", "C", ""))))
	f.Add([]byte("<PubmedArticleSet><PubmedArticle>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var rej bytes.Buffer
		var n int64
		last := int64(-1)
		st, err := Parse(context.Background(), bytes.NewReader(data), "fuzz.xml", func(r Record) error {
			n++
			if r.Index <= last {
				t.Fatalf("index %d after %d", r.Index, last)
			}
			last = r.Index
			if verr := document.Validate(r.Doc, document.DefaultLimits()); verr != nil {
				t.Fatalf("invalid document %+v: %v", r.Doc, verr)
			}
			if r.Offset < 0 || r.Offset > int64(len(data)) && !st0gzip(data) {
				t.Fatalf("offset %d outside input", r.Offset)
			}
			return nil
		}, WithRejects(&rej))
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FileError", err)
			}
		}
		if n != st.Records || st.Records != st.Articles+st.BookArticles+st.Deletes {
			t.Fatalf("stats %+v, %d records", st, n)
		}
		if int64(strings.Count(rej.String(), "\n")) != st.Rejected {
			t.Fatalf("%d reject lines, stats %+v", strings.Count(rej.String(), "\n"), st)
		}
	})
}

func st0gzip(data []byte) bool { return len(data) > 1 && data[0] == 0x1f && data[1] == 0x8b }
