package manifest

import (
	"bytes"
	"fmt"
	"io"
)

// lineCounter gives the 1-based line of offsets in data, counting from the offset asked last.
type lineCounter struct {
	data []byte
	off  int
	line int // the line of off; set it to 1 with off 0
}

func (c *lineCounter) at(off int) int {
	if off >= c.off {
		c.line += bytes.Count(c.data[c.off:off], []byte("\n"))
	} else {
		c.line -= bytes.Count(c.data[off:c.off], []byte("\n"))
	}
	c.off = off
	return c.line
}

// lineLimiter hands data[off:] to the bufio.Reader under YAMLReader and fails for good at a line longer than
// MaxLineSize, which util/yaml's LineReader would otherwise gather whole. Its offset, less what the bufio.Reader
// holds, is how far YAMLReader has read.
type lineLimiter struct {
	data      []byte
	off       int // the next byte to hand out
	lineStart int // the start of the line off is in
	lines     *lineCounter
	err       error
}

func (l *lineLimiter) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	if l.off >= len(l.data) {
		return 0, io.EOF
	}
	// At most MaxLineSize bytes at a time, so that a line between two newlines of p is never too long.
	n := copy(p[:min(len(p), MaxLineSize)], l.data[l.off:])
	end := l.off + n
	if i := bytes.IndexByte(l.data[l.off:end], '\n'); i >= 0 {
		if l.off+i-l.lineStart > MaxLineSize {
			return 0, l.fail()
		}
		l.lineStart = l.off + bytes.LastIndexByte(l.data[l.off:end], '\n') + 1
	}
	if end-l.lineStart > MaxLineSize {
		return 0, l.fail()
	}
	l.off = end
	return n, nil
}

func (l *lineLimiter) fail() error {
	l.err = fmt.Errorf("line %d: longer than %d MiB, the limit for one line of YAML", l.lines.at(l.lineStart), MaxLineSize>>20)
	return l.err
}

// positions follows YAMLReader through the stream to find where its documents start, which it does not say.
// Each YAMLReader.Read consumes whole lines: a separator (a line starting with "---"; a line of a document never
// does) that opens the document, which it keeps in the document, then the document's lines, then the separator
// that ends it, if any, which it drops. The bytes one Read consumed (from what the bufio.Reader under it took and
// still holds) are thus the document and the separators around it.
type positions struct {
	data  []byte
	off   int // where the next Read starts
	lines *lineCounter
	base  int  // JSON values before the YAML stream
	seps  int  // separators so far
	first bool // the text before the first separator is a document: not empty (set by the caller)
	// atStart says the document last returned is the text before the first separator.
	atStart bool
	// The separator YAMLReader rejected last: its line and text.
	badLine int
	badText []byte
}

// document returns the index and line of the document YAMLReader read up to end, and the line chunk starts on
// (the opening separator's, if it holds one). chunk is what YAMLReader returned, or nil after an error; then bad
// says the last line read is a separator it rejected. The lines are 0 if chunk does not match the lines read,
// which would be a bug.
func (p *positions) document(end int, chunk []byte, bad bool) (document, int) {
	start := p.off
	p.off = end
	opening, closing, docLine := 0, 0, 0
	matched, synced := 0, true // how much of chunk the lines read match
	chunkLine := p.lines.at(start)
	lineNo := chunkLine
	for off := start; off < end; lineNo++ {
		next := end
		if i := bytes.IndexByte(p.data[off:end], '\n'); i >= 0 {
			next = off + i + 1
		}
		line := p.data[off:next]
		isSep := bytes.HasPrefix(line, []byte("---"))
		switch {
		case bad && next == end:
			p.badLine, p.badText = lineNo, line
			closing++
		case isSep && off == start:
			opening++
			matched, synced = matchLine(chunk, matched, line, synced)
		case isSep:
			closing++
		case chunk != nil && synced && matched == len(chunk) && next == len(p.data) && !bytes.HasSuffix(line, []byte("\n")):
			// util/yaml's LineReader returns a last line without a newline together with io.EOF when bufio.Reader
			// returned all of it as a prefix (its length is a multiple of 4096 bytes), and YAMLReader drops it:
			// kubectl does not read it either.
		default:
			if docLine == 0 {
				docLine = lineNo
			}
			matched, synced = matchLine(chunk, matched, line, synced)
		}
		off = next
	}
	switch {
	case chunk != nil && (!synced || matched != len(chunk)):
		docLine, chunkLine = 0, 0
	case docLine == 0 && bad:
		docLine = p.badLine
	case docLine == 0:
		docLine = chunkLine // an empty document, or a line too long
	}
	return document{index: p.index(opening, closing), line: docLine}, chunkLine
}

// index numbers documents as YAML does: each separator opens one, and the text before the first separator is
// one unless it is empty (nothing, or only comments).
func (p *positions) index(opening, closing int) int {
	s := p.seps + opening
	p.seps = s + closing
	p.atStart = s == 0
	if s == 0 {
		return p.base + 1
	}
	if p.first {
		return p.base + s + 1
	}
	return p.base + s
}

// matchLine checks that chunk[at:] starts with line as bufio.Reader.ReadLine returns it (without "\n" or "\r\n")
// followed by "\n", as util/yaml's LineReader writes it.
func matchLine(chunk []byte, at int, line []byte, synced bool) (int, bool) {
	if chunk == nil || !synced {
		return at, synced
	}
	if bytes.HasSuffix(line, []byte("\n")) {
		line = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
	}
	rest := chunk[at:]
	if !bytes.HasPrefix(rest, line) || len(rest) == len(line) || rest[len(line)] != '\n' {
		return at, false
	}
	return at + len(line) + 1, true
}
