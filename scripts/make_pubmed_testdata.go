//go:build ignore

// Command make_pubmed_testdata builds the small PubMed files under
// testdata/pubmed from the 200 JNLPBA devel abstracts, so that the parser,
// the producer and `worker eval` can be exercised on realistic input whose
// gold annotations are known.
//
//	go run scripts/make_pubmed_testdata.go [-in devel.docs.jsonl] [-out testdata/pubmed]
//
// pubmed26n0001.xml.gz (baseline) holds all 200 documents in devel order:
// 199 PubmedArticle and one PubmedBookArticle, PMID Version="1", title = the
// devel text's first line, abstract = the rest. The six devel abstracts that
// are structured ("LABEL:\ntext" lines) become AbstractText sections with
// Label/NlmCategory; every third document gets inline markup (<sup>, <sub>,
// <i>, <b>) placed so that it flattens back to the original characters. After
// parsing, every document's Content() equals its devel text without the
// trailing "\n" — the program checks this before it writes anything.
//
// pubmed26n1300.xml.gz (update) revises three articles (Version="2", one
// sentence appended to the abstract) and deletes two devel PMIDs plus one
// that was never published, in a DeleteCitation.
//
// testdata/docs/sample.jsonl gets four JSON-lines documents (short, titled,
// non-ASCII, and a ~130 KB one made of 100 devel abstracts).
//
// Output is deterministic: gzip with no name and no modification time.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/nerstream/nerstream/internal/corpus"
	"github.com/nerstream/nerstream/internal/pubmed"
)

type develDoc struct {
	PMID string `json:"pmid"`
	Text string `json:"text"`
}

const (
	doctype = `<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">`
	// bookIndex is the devel position of the document written as a book.
	bookIndex = 100
	// revisedNote is appended to the abstracts revised in the update file.
	revisedNote = " This abstract was revised to correct the reported values."
)

var (
	revised = []int{10, 60, 120} // devel positions revised in the update file
	deleted = []int{20, 180}     // devel positions deleted in the update file
	unknown = "99999999"         // deleted PMID that was never published
	label   = regexp.MustCompile(`^[A-Z][A-Z ]+:$`)
	supCD   = regexp.MustCompile(`\b(CD\d+)\+`)
	supCa   = regexp.MustCompile(`\bCa2\+`)
	subNH   = regexp.MustCompile(`\bNH2\b`)
	gene    = regexp.MustCompile(`\b(?:[A-Z]{2,}[a-z]?-?\d+[a-z]?|[a-z]\d{2,})\b`)
	nfkb    = regexp.MustCompile(`NF-kappa B`)
	nlmCat  = map[string]string{"BACKGROUND": "BACKGROUND", "OBJECTIVE": "OBJECTIVE", "PURPOSE": "OBJECTIVE",
		"METHOD": "METHODS", "METHODS": "METHODS", "RESULTS": "RESULTS", "CONCLUSIONS": "CONCLUSIONS"}
)

func main() {
	def, _ := corpus.Path("devel.docs.jsonl")
	in := flag.String("in", def, "JNLPBA devel documents (JSON lines with pmid, text); default found by internal/corpus")
	out := flag.String("out", "testdata/pubmed", "output directory")
	docsOut := flag.String("docs", "testdata/docs/sample.jsonl", "where to write the JSON-lines sample")
	flag.Parse()
	docs, err := readDevel(*in)
	if err != nil {
		log.Fatal(err)
	}
	var marked []string
	base := new(bytes.Buffer)
	start(base)
	for i, d := range docs {
		title, abstract := split(d.Text)
		markup := i%3 == 0
		if markup {
			marked = append(marked, d.PMID)
		}
		if i == bookIndex {
			writeBook(base, d.PMID, title, abstract, markup)
		} else {
			writeArticle(base, d.PMID, 1, title, abstract, markup)
		}
	}
	base.WriteString("</PubmedArticleSet>\n")

	upd := new(bytes.Buffer)
	start(upd)
	for _, i := range revised {
		title, abstract := split(docs[i].Text)
		writeArticle(upd, docs[i].PMID, 2, title, abstract+revisedNote, i%3 == 0)
	}
	upd.WriteString("<DeleteCitation>\n")
	for _, i := range deleted {
		fmt.Fprintf(upd, "<PMID Version=\"1\">%s</PMID>\n", docs[i].PMID)
	}
	fmt.Fprintf(upd, "<PMID Version=\"1\">%s</PMID>\n</DeleteCitation>\n</PubmedArticleSet>\n", unknown)

	if err := verify(base.Bytes(), upd.Bytes(), docs); err != nil {
		log.Fatalf("generated files do not parse back to the devel texts: %v", err)
	}
	for name, data := range map[string][]byte{"pubmed26n0001.xml.gz": base.Bytes(), "pubmed26n1300.xml.gz": upd.Bytes()} {
		if err := writeGzip(filepath.Join(*out, name), data); err != nil {
			log.Fatal(err)
		}
	}
	if err := writeSample(*docsOut, docs); err != nil {
		log.Fatal(err)
	}
	var rev, del []string
	for _, i := range revised {
		rev = append(rev, docs[i].PMID)
	}
	for _, i := range deleted {
		del = append(del, docs[i].PMID)
	}
	fmt.Printf("baseline: %d documents (book: PMID %s), %d with inline markup: %s\n", len(docs), docs[bookIndex].PMID, len(marked), strings.Join(marked, " "))
	fmt.Printf("update: revised (Version 2): %s; deleted: %s %s\n", strings.Join(rev, " "), strings.Join(del, " "), unknown)
}

func readDevel(path string) ([]develDoc, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var docs []develDoc
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var d develDoc
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			return nil, fmt.Errorf("%s: line %d: %w", path, len(docs)+1, err)
		}
		docs = append(docs, d)
	}
	return docs, sc.Err()
}

// split returns the title (first line) and the abstract (the rest, without
// the trailing newline).
func split(text string) (string, string) {
	title, abstract, _ := strings.Cut(strings.TrimSuffix(text, "\n"), "\n")
	return title, abstract
}

func start(b *bytes.Buffer) {
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n" + doctype + "\n<PubmedArticleSet>\n")
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// inline escapes s and, when markup is set, adds inline elements that
// flatten back to the same characters.
func inline(s string, markup bool) string {
	s = esc(s)
	if !markup {
		return s
	}
	s = supCD.ReplaceAllString(s, "$1<sup>+</sup>")
	s = supCa.ReplaceAllString(s, "Ca<sup>2+</sup>")
	s = subNH.ReplaceAllString(s, "NH<sub>2</sub>")
	s = first(nfkb, s, "<b>", "</b>")
	return first(gene, s, "<i>", "</i>")
}

// first wraps the first match of re in s between open and close.
func first(re *regexp.Regexp, s, open, close string) string {
	loc := re.FindStringIndex(s)
	if loc == nil {
		return s
	}
	return s[:loc[0]] + open + s[loc[0]:loc[1]] + close + s[loc[1]:]
}

// abstractXML renders the abstract: structured devel abstracts ("LABEL:" on
// a line of its own before each section) become labelled AbstractText.
func abstractXML(abstract string, markup bool) string {
	lines := strings.Split(abstract, "\n")
	structured := len(lines) > 1 && len(lines)%2 == 0
	for i := 0; structured && i < len(lines); i += 2 {
		structured = label.MatchString(lines[i])
	}
	var b strings.Builder
	b.WriteString("      <Abstract>\n")
	if structured {
		for i := 0; i < len(lines); i += 2 {
			l := strings.TrimSuffix(lines[i], ":")
			cat := nlmCat[l]
			if cat == "" {
				cat = "UNASSIGNED"
			}
			fmt.Fprintf(&b, "        <AbstractText Label=%q NlmCategory=%q>%s</AbstractText>\n", l, cat, inline(lines[i+1], markup))
		}
	} else {
		if len(lines) != 1 {
			log.Fatalf("abstract with %d unlabelled lines cannot round-trip", len(lines))
		}
		fmt.Fprintf(&b, "        <AbstractText>%s</AbstractText>\n", inline(abstract, markup))
	}
	b.WriteString("      </Abstract>\n")
	return b.String()
}

func writeArticle(b *bytes.Buffer, pmid string, version int, title, abstract string, markup bool) {
	year := "19" + pmid[:2]
	fmt.Fprintf(b, `<PubmedArticle>
  <MedlineCitation Status="MEDLINE" Owner="NLM" IndexingMethod="Manual">
    <PMID Version="%d">%s</PMID>
    <DateCompleted><Year>%s</Year><Month>06</Month><Day>15</Day></DateCompleted>
    <DateRevised><Year>2025</Year><Month>12</Month><Day>0%d</Day></DateRevised>
    <Article PubModel="Print">
      <Journal>
        <ISSN IssnType="Print">0000-0000</ISSN>
        <JournalIssue CitedMedium="Print"><Volume>%s</Volume><Issue>1</Issue><PubDate><Year>%s</Year><Month>Jun</Month></PubDate></JournalIssue>
        <Title>Journal of Synthetic Test Data</Title>
        <ISOAbbreviation>J Synth Test Data</ISOAbbreviation>
      </Journal>
      <ArticleTitle>%s</ArticleTitle>
      <Pagination><StartPage>1</StartPage><EndPage>9</EndPage><MedlinePgn>1-9</MedlinePgn></Pagination>
%s      <AuthorList CompleteYN="Y">
        <Author ValidYN="Y"><LastName>Author</LastName><ForeName>A</ForeName><Initials>A</Initials></Author>
        <Author ValidYN="Y"><LastName>Writer</LastName><ForeName>B</ForeName><Initials>B</Initials></Author>
      </AuthorList>
      <Language>eng</Language>
      <PublicationTypeList><PublicationType UI="D016428">Journal Article</PublicationType></PublicationTypeList>
    </Article>
    <MedlineJournalInfo><Country>United States</Country><MedlineTA>J Synth Test Data</MedlineTA><NlmUniqueID>0000000</NlmUniqueID><ISSNLinking>0000-0000</ISSNLinking></MedlineJournalInfo>
    <CitationSubset>IM</CitationSubset>
    <MeshHeadingList><MeshHeading><DescriptorName UI="D006801" MajorTopicYN="N">Humans</DescriptorName></MeshHeading></MeshHeadingList>
  </MedlineCitation>
  <PubmedData>
    <History><PubMedPubDate PubStatus="pubmed"><Year>%s</Year><Month>6</Month><Day>1</Day></PubMedPubDate></History>
    <PublicationStatus>ppublish</PublicationStatus>
    <ArticleIdList><ArticleId IdType="pubmed">%s</ArticleId></ArticleIdList>
  </PubmedData>
</PubmedArticle>
`, version, pmid, year, version, pmid[2:4], year, inline(title, markup), abstractXML(abstract, markup), year, pmid)
}

func writeBook(b *bytes.Buffer, pmid, title, abstract string, markup bool) {
	fmt.Fprintf(b, `<PubmedBookArticle>
  <BookDocument>
    <PMID Version="1">%s</PMID>
    <ArticleIdList><ArticleId IdType="bookaccession">NBK0000001</ArticleId></ArticleIdList>
    <Book>
      <Publisher><PublisherName>Synthetic University Press</PublisherName><PublisherLocation>Nowhere</PublisherLocation></Publisher>
      <BookTitle book="synthbook">Handbook of Synthetic Test Data</BookTitle>
      <PubDate><Year>2025</Year></PubDate>
      <Medium>Internet</Medium>
    </Book>
    <LocationLabel Type="chapter">Chapter 1</LocationLabel>
    <ArticleTitle book="synthbook" part="ch1">%s</ArticleTitle>
    <Language>eng</Language>
%s    <Sections><Section><SectionTitle book="synthbook" part="ch1" sec="s1">Summary</SectionTitle></Section></Sections>
  </BookDocument>
  <PubmedBookData>
    <History><PubMedPubDate PubStatus="pubmed"><Year>2025</Year><Month>1</Month><Day>1</Day></PubMedPubDate></History>
    <PublicationStatus>ppublish</PublicationStatus>
    <ArticleIdList><ArticleId IdType="pubmed">%s</ArticleId></ArticleIdList>
  </PubmedBookData>
</PubmedBookArticle>
`, pmid, inline(title, markup), strings.ReplaceAll(abstractXML(abstract, markup), "      <", "    <"), pmid)
}

// verify parses both files with internal/pubmed and compares the text.
func verify(base, upd []byte, docs []develDoc) error {
	var got []pubmed.Record
	collect := func(r pubmed.Record) error { got = append(got, r); return nil }
	var rej bytes.Buffer
	if _, err := pubmed.Parse(context.Background(), bytes.NewReader(base), "baseline", collect, pubmed.WithRejects(&rej)); err != nil || rej.Len() > 0 {
		return fmt.Errorf("baseline: %v %s", err, rej.String())
	}
	if len(got) != len(docs) {
		return fmt.Errorf("baseline: %d records, want %d", len(got), len(docs))
	}
	for i, r := range got {
		want := strings.TrimSuffix(docs[i].Text, "\n")
		if r.Doc.ID != docs[i].PMID || r.Doc.Content() != want || r.Doc.Version != 1 {
			return fmt.Errorf("baseline record %d (PMID %s v%d):\n got %q\nwant %q", i, r.Doc.ID, r.Doc.Version, r.Doc.Content(), want)
		}
		if (r.Kind == pubmed.KindBookArticle) != (i == bookIndex) {
			return fmt.Errorf("baseline record %d has kind %v", i, r.Kind)
		}
	}
	got = got[:0]
	if _, err := pubmed.Parse(context.Background(), bytes.NewReader(upd), "update", collect, pubmed.WithRejects(&rej)); err != nil || rej.Len() > 0 {
		return fmt.Errorf("update: %v %s", err, rej.String())
	}
	if len(got) != len(revised)+len(deleted)+1 {
		return fmt.Errorf("update: %d records", len(got))
	}
	for k, i := range revised {
		if want := strings.TrimSuffix(docs[i].Text, "\n") + revisedNote; got[k].Doc.Content() != want || got[k].Doc.Version != 2 {
			return fmt.Errorf("update record %d: %+v", k, got[k].Doc)
		}
	}
	return nil
}

// writeSample writes a few JSON-lines documents for `producer jsonl` and
// `worker annotate`: short ones, one with a title, one with non-ASCII text
// (offsets are code points) and a very long one made of the first 100 devel
// abstracts.
func writeSample(path string, docs []develDoc) error {
	var long []string
	for _, d := range docs[:100] {
		_, abstract := split(d.Text)
		long = append(long, strings.ReplaceAll(abstract, "\n", " "))
	}
	lines := []map[string]any{
		{"id": "sample-short", "text": "Interleukin-2 gene expression in activated T cells requires NF-kappa B and AP-1."},
		{"id": "sample-title", "title": "STAT3 activation in human monocytes", "text": "IL-6 induces tyrosine phosphorylation of STAT3 in peripheral blood monocytes but not in resting T lymphocytes.", "version": 2},
		{"id": "sample-unicode", "text": "The β-globin and α-globin genes are expressed in K562 cells; Ca²⁺ influx activates NFAT (nuclear factor of activated T cells) in Jurkat cells."},
		{"id": "sample-long", "text": strings.Join(long, " ")},
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for _, l := range lines {
		if err := enc.Encode(l); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

func writeGzip(path string, data []byte) error {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(data); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
