// Package abbrev finds abbreviation definitions in a document, in the style of
// Schwartz & Hearst (2003, "A simple algorithm for identifying abbreviation
// definitions in biomedical text"): "long form (SF)" and "SF (long form)".
//
// Offsets are Unicode code points into the text passed in, end exclusive,
// like every offset of the pipeline. [Detect] returns the definitions;
// [NewDoc] also indexes every later occurrence of each short form so that
// [Doc.Resolve] can tell which entity mentions are short forms, which long
// form they stand for, and which entity type the long form's mention has —
// the type that the short forms of the same document take.
//
// The package has no dependency on the rest of the pipeline: callers pass
// mentions as plain spans with a label.
package abbrev
