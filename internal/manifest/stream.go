package manifest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// jsonPeek is how far kubectl's decoder looks into a stream to decide it is JSON (StreamVisitor passes 4096 to
// yaml.NewYAMLOrJSONDecoder).
const jsonPeek = 4096

// document is one document of a stream as kubectl's decoder returns it: JSON (a JSON value, or a YAML document
// converted), or the error kubectl's decoder would return for it.
type document struct {
	index int    // 1-based
	line  int    // the line of the stream the document starts on
	json  []byte // trimmed; empty or "null" for an empty document
	err   error
}

// documents cuts a stream into documents as yaml.YAMLOrJSONDecoder does, and carries on after an error where
// calling that decoder again would: after a YAML document, not inside a JSON stream. The decoder hides where its
// documents start, so documents drives the same parts (a json.Decoder, then util/yaml's YAMLReader) itself.
func documents(data []byte) iter.Seq[document] {
	return func(yield func(document) bool) {
		if !utilyaml.IsJSONBuffer(data[:min(len(data), jsonPeek)]) {
			yamlDocuments(data, 0, 0, nil, yield)
			return
		}
		lines := lineCounter{data: data, line: 1}
		dec := json.NewDecoder(bytes.NewReader(data))
		count, offset := 0, 0
		for {
			var raw json.RawMessage
			err := dec.Decode(&raw)
			if err == io.EOF {
				return
			}
			if err != nil {
				start := offset + len(data[offset:]) - len(bytes.TrimLeft(data[offset:], " \t\r\n"))
				errDoc := document{index: count + 1, line: lines.at(start), err: jsonError(err, &lines)}
				if count > 1 {
					// More than one value: a JSON stream, which the error ends (json.Decoder cannot go on).
					yield(errDoc)
					return
				}
				// Not a JSON stream after all: the decoder goes on in YAML after the last value, and reports the
				// JSON error if the first YAML document is broken too.
				rest, ok := afterWhitespace(data, offset)
				if !ok {
					yield(errDoc)
					return
				}
				yamlDocuments(data, rest, count, errDoc.err, yield)
				return
			}
			count++
			offset = int(dec.InputOffset())
			if !yield(document{index: count, line: lines.at(offset - len(raw)), json: raw}) {
				return
			}
		}
	}
}

func jsonError(err error, lines *lineCounter) error {
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) && syntax.Offset > 0 {
		return fmt.Errorf("invalid JSON: line %d: %w", lines.at(int(syntax.Offset)-1), err)
	}
	return fmt.Errorf("invalid JSON: %w", err)
}

// afterWhitespace is YAMLOrJSONDecoder.consumeWhitespace: it skips white space up to and including the first
// newline. Reading 4 bytes at a time, kubectl's decoder gives up on the stream when fewer than 4 remain or one is
// not valid UTF-8 (U+FFFD included).
func afterWhitespace(data []byte, p int) (int, bool) {
	for {
		if len(data)-p < 4 {
			return p, false
		}
		r, size := utf8.DecodeRune(data[p : p+4])
		switch {
		case r == utf8.RuneError:
			return p, false
		case !unicode.IsSpace(r):
			return p, true
		}
		p += size
		if r == '\n' {
			return p, true
		}
	}
}

// yamlDocuments reads data[offset:] with util/yaml's YAMLReader, the reader of kubectl's YAMLToJSONDecoder,
// numbering documents after the base JSON values before them. jsonErr, if not nil, replaces the error of the
// first document, as YAMLOrJSONDecoder returns the JSON error when its fallback to YAML fails too.
func yamlDocuments(data []byte, offset, base int, jsonErr error, yield func(document) bool) {
	lines := &lineCounter{data: data, line: 1}
	limit := &lineLimiter{data: data, off: offset, lines: lines}
	buf := bufio.NewReader(limit)
	reader := utilyaml.NewYAMLReader(buf)
	pos := positions{data: data, off: offset, lines: lines, base: base}
	for {
		chunk, err := reader.Read()
		if err == io.EOF {
			return
		}
		var doc document
		tooLong := err != nil && limit.err != nil // YAMLReader may still return what bufio.Reader holds
		switch {
		case err == nil:
			var chunkLine int
			doc, chunkLine = pos.document(limit.off-buf.Buffered(), chunk, false)
			doc.json, doc.err = toJSON(chunk, chunkLine)
		case tooLong:
			doc, _ = pos.document(max(limit.lineStart, pos.off), nil, false)
			doc.err = limit.err
		default:
			doc, _ = pos.document(limit.off-buf.Buffered(), nil, true)
			doc.err = separatorError(err, pos.badLine, pos.badText)
		}
		if pos.atStart {
			pos.first = doc.err != nil || !empty(doc.json)
		}
		if doc.err != nil && jsonErr != nil {
			doc.err = jsonErr
		}
		jsonErr = nil
		if !yield(doc) || tooLong {
			return
		}
	}
}

// empty reports whether a document's JSON is what StreamVisitor skips: nothing or null.
func empty(json []byte) bool { return len(json) == 0 || string(json) == "null" }

// toJSON converts a YAML document as YAMLToJSONDecoder does (yaml.Unmarshal into a RawExtension amounts to
// yaml.YAMLToJSON; util/yaml's ToJSON would differ, passing a document starting with "{" through unconverted).
func toJSON(chunk []byte, line int) ([]byte, error) {
	if len(chunk) > MaxDocumentSize {
		return nil, fmt.Errorf("larger than %d MiB, the limit for one YAML document (split it, or give it as JSON)", MaxDocumentSize>>20)
	}
	j, err := yaml.YAMLToJSON(chunk)
	if err != nil {
		return nil, yamlError(err, line)
	}
	return bytes.TrimSpace(j), nil
}

// separatorError words YAMLReader's "invalid Yaml document separator: X" with the line it is on.
func separatorError(err error, line int, text []byte) error {
	var syntax utilyaml.YAMLSyntaxError
	if !errors.As(err, &syntax) || line == 0 {
		return fmt.Errorf("invalid YAML: %w", err)
	}
	return fmt.Errorf("invalid YAML: line %d: invalid document separator %q: only a comment may follow ---", line, bytes.TrimRight(text, "\r\n"))
}

// yamlLine finds the line numbers in go-yaml's error messages, to make them lines of the file.
var yamlLine = regexp.MustCompile(`\bline (\d+):`)

// yamlError rewrites go-yaml's document-relative "line N" into lines of the file, on one line.
func yamlError(err error, docLine int) error {
	msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
	msg = strings.Replace(msg, "yaml: unmarshal errors:\n", "yaml: ", 1)
	msg = strings.Join(strings.Fields(msg), " ")
	msg = yamlLine.ReplaceAllStringFunc(msg, func(m string) string {
		n, convErr := strconv.Atoi(yamlLine.FindStringSubmatch(m)[1])
		if convErr != nil || docLine < 1 {
			return m
		}
		return fmt.Sprintf("line %d:", docLine+n-1)
	})
	msg = strings.TrimPrefix(msg, "yaml: ")
	return errors.New("invalid YAML: " + msg)
}
