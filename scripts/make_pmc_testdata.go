//go:build ignore

// Command make_pmc_testdata builds the PMC Open Access test files under
// testdata/pmc from JNLPBA devel abstracts (CC BY 3.0), laid out like real
// PMC files so that internal/pmc and `producer pmc` can be tested:
//
//	go run scripts/make_pmc_testdata.go [-in testdata/jnlpba/devel.docs.jsonl] [-out testdata/pmc]
//
// PMC9000001.xml: one JATS 1.3 <article> with the DOCTYPE of PMC OA files,
// the xlink/mml/ali namespaces, <front> (journal-meta, article-meta with
// article-id pmc/pmid, title-group, abstract of two <p>), <body> with nested
// <sec>/<title>/<p>, inline markup (<italic>, <bold>, <sup>, <xref
// ref-type="bibr">), a <fig> with caption, a <table-wrap>, an
// <inline-formula> with MathML, and <back> with <ref-list> and <ack>.
// Each devel sentence appears once, so the expected text is known.
//
// PMC9000002.xml.gz: a <pmc-articleset> with two articles (gzip, no name,
// no time), the second with a pmid only.
//
// bioc_sample.xml: a BioC collection of two documents in the layout of
// PMC's BioC service (passages with section_type/type infons TITLE/front,
// ABSTRACT/abstract, INTRO/title_1 and paragraph, FIG/fig_caption,
// TABLE/table, REF/ref).
//
// The expected passages are written next to them as *.expected.json
// (type, text) and checked by internal/pmc's tests.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

type passage struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

func esc(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// sentences splits an abstract at ". " (good enough for fixtures).
func sentences(s string) []string {
	var out []string
	for _, p := range strings.SplitAfter(s, ". ") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// italicFirst wraps the first occurrence of w in <italic>: the flattened text is unchanged.
func italicFirst(escaped, w string) string {
	return strings.Replace(escaped, esc(w), "<italic>"+esc(w)+"</italic>", 1)
}

func article(pmcid, pmid, title, abstract string) (string, []passage) {
	ss := sentences(abstract)
	for len(ss) < 6 {
		ss = append(ss, ss[len(ss)-1])
	}
	var exp []passage
	exp = append(exp, passage{"title", title})
	var b strings.Builder
	b.WriteString(`<article xmlns:mml="http://www.w3.org/1998/Math/MathML" xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:ali="http://www.niso.org/schemas/ali/1.0/" article-type="research-article" dtd-version="1.3" xml:lang="en">` + "\n")
	b.WriteString("<front>\n<journal-meta><journal-id journal-id-type=\"nlm-ta\">Test J</journal-id><journal-title-group><journal-title>Test Journal</journal-title></journal-title-group><issn pub-type=\"epub\">0000-0000</issn></journal-meta>\n")
	b.WriteString("<article-meta>\n")
	if pmcid != "" {
		fmt.Fprintf(&b, "<article-id pub-id-type=\"pmc\">%s</article-id>\n", pmcid)
	}
	fmt.Fprintf(&b, "<article-id pub-id-type=\"pmid\">%s</article-id>\n<article-id pub-id-type=\"doi\">10.0000/test.%s</article-id>\n", pmid, pmid)
	fmt.Fprintf(&b, "<title-group><article-title>%s</article-title></title-group>\n", italicFirst(esc(title), strings.Fields(title)[0]))
	b.WriteString("<contrib-group><contrib contrib-type=\"author\"><name><surname>Doe</surname><given-names>J</given-names></name><xref ref-type=\"aff\" rid=\"aff1\">1</xref></contrib></contrib-group>\n")
	b.WriteString("<permissions><ali:free_to_read/><license xlink:href=\"https://creativecommons.org/licenses/by/3.0/\"><license-p>CC BY 3.0</license-p></license></permissions>\n")
	abs1, abs2 := ss[0], ss[1]
	fmt.Fprintf(&b, "<abstract>\n<p>%s</p>\n<p>%s</p>\n</abstract>\n</article-meta>\n</front>\n", esc(abs1), esc(abs2))
	exp = append(exp, passage{"abstract", abs1}, passage{"abstract", abs2})
	b.WriteString("<body>\n")
	fmt.Fprintf(&b, "<sec id=\"s1\">\n<title>Introduction</title>\n<p>%s<xref ref-type=\"bibr\" rid=\"r1\">1</xref></p>\n", esc(ss[2]))
	exp = append(exp, passage{"section_title", "Introduction"}, passage{"Introduction", ss[2] + "1"})
	fmt.Fprintf(&b, "<fig id=\"f1\"><label>Figure 1</label><caption><title>Figure title</title><p>FIGURE CAPTION TEXT</p></caption><graphic xlink:href=\"f1.jpg\"/></fig>\n")
	b.WriteString("</sec>\n<sec id=\"s2\">\n<title>Results</title>\n")
	fmt.Fprintf(&b, "<sec id=\"s2a\">\n<title>Binding</title>\n<p>%s <bold>%s</bold></p>\n", esc(ss[3]), esc(ss[4]))
	exp = append(exp, passage{"section_title", "Results"}, passage{"section_title", "Binding"}, passage{"Binding", ss[3] + " " + ss[4]})
	b.WriteString("<table-wrap id=\"t1\"><label>Table 1</label><caption><p>TABLE CAPTION</p></caption><table><tr><td>TABLE CELL</td></tr></table></table-wrap>\n")
	b.WriteString("</sec>\n")
	fmt.Fprintf(&b, "<p>%s with <inline-formula><mml:math><mml:mi>x</mml:mi></mml:math></inline-formula> removed.</p>\n</sec>\n</body>\n", esc(ss[5]))
	exp = append(exp, passage{"Results", ss[5] + " with removed."})
	b.WriteString("<back>\n<ack><p>ACKNOWLEDGEMENT TEXT</p></ack>\n<ref-list><title>References</title><ref id=\"r1\"><element-citation><article-title>REFERENCE TITLE</article-title></element-citation></ref></ref-list>\n</back>\n</article>\n")
	return b.String(), exp
}

func main() {
	in := flag.String("in", "testdata/jnlpba/devel.docs.jsonl", "JNLPBA devel documents")
	out := flag.String("out", "testdata/pmc", "output directory")
	flag.Parse()
	f, err := os.Open(*in)
	if err != nil {
		fail(err)
	}
	var docs []struct{ PMID, Title, Abstract string }
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() && len(docs) < 5 {
		var d struct {
			PMID string `json:"pmid"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			fail(err)
		}
		t, a, _ := strings.Cut(strings.TrimSpace(d.Text), "\n")
		docs = append(docs, struct{ PMID, Title, Abstract string }{d.PMID, t, a})
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fail(err)
	}
	expected := map[string][]passage{}
	const doctype = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<!DOCTYPE article PUBLIC "-//NLM//DTD JATS (Z39.96) Journal Archiving and Interchange DTD with MathML3 v1.3 20210610//EN" "JATS-archivearticle1-3-mathml3.dtd">` + "\n"
	a1, e1 := article("9000001", docs[1].PMID, docs[1].Title, docs[1].Abstract)
	write(filepath.Join(*out, "PMC9000001.xml"), []byte(doctype+a1))
	expected["PMC9000001"] = e1
	a2, e2 := article("9000002", docs[2].PMID, docs[2].Title, docs[2].Abstract)
	a3, e3 := article("", docs[3].PMID, docs[3].Title, docs[3].Abstract)
	set := `<?xml version="1.0" encoding="UTF-8"?>` + "\n<pmc-articleset>\n" + a2 + a3 + "</pmc-articleset>\n"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(set))
	zw.Close()
	write(filepath.Join(*out, "PMC9000002.xml.gz"), gz.Bytes())
	expected["PMC9000002"], expected[docs[3].PMID] = e2, e3

	var bc strings.Builder
	bc.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<!DOCTYPE collection SYSTEM "BioC.dtd">` + "\n<collection><source>PMC</source><date>20261201</date><key>pmc.key</key>\n")
	for i, d := range docs[3:5] {
		id := fmt.Sprintf("PMC900001%d", i)
		ss := sentences(d.Abstract)
		type bp struct{ sec, typ, text string }
		ps := []bp{{"TITLE", "front", d.Title}, {"ABSTRACT", "abstract", ss[0]}, {"INTRO", "title_1", "Introduction"},
			{"INTRO", "paragraph", strings.Join(ss[1:], " ")}, {"FIG", "fig_caption", "FIGURE CAPTION"},
			{"TABLE", "table", "TABLE CELL"}, {"REF", "ref", "REFERENCE"}}
		fmt.Fprintf(&bc, "<document><id>%s</id>\n", id)
		off := 0
		var exp []passage
		for _, p := range ps {
			fmt.Fprintf(&bc, "<passage><infon key=\"section_type\">%s</infon><infon key=\"type\">%s</infon><offset>%d</offset><text>%s</text></passage>\n", p.sec, p.typ, off, esc(p.text))
			off += len(p.text) + 1
			switch p.sec {
			case "TITLE":
				exp = append(exp, passage{"title", p.text})
			case "FIG", "TABLE", "REF":
			default:
				typ := strings.ToLower(p.sec)
				if strings.HasPrefix(p.typ, "title") {
					typ = "section_title"
				}
				exp = append(exp, passage{typ, p.text})
			}
		}
		bc.WriteString("</document>\n")
		expected[id] = exp
	}
	bc.WriteString("</collection>\n")
	write(filepath.Join(*out, "bioc_sample.xml"), []byte(bc.String()))
	ej, _ := json.MarshalIndent(expected, "", " ")
	write(filepath.Join(*out, "expected.json"), append(ej, '\n'))
}

func write(path string, data []byte) {
	if err := os.WriteFile(path, data, 0o644); err != nil {
		fail(err)
	}
	fmt.Fprintf(os.Stderr, "wrote %s (%d bytes)\n", path, len(data))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "make_pmc_testdata:", err)
	os.Exit(1)
}
