package manifest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// Files lists the manifest files of path: path itself when it is a regular file (or a symbolic link to one), else
// the files under it with one of Extensions, recursively, in lexical order. Symbolic links to directories under
// path are not followed (path itself may be one); symbolic links to regular files are listed, as kubectl reads
// them. Anything else named explicitly (a named pipe, a device such as /dev/stdin or /dev/zero) is an error;
// found in a directory with a manifest extension, it is skipped and reported in the error, which Files may return
// together with the files it found. A directory without any manifest file is an error: a mistyped path must not
// pass as clean.
func Files(path string) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, pathError(err)
	}
	if info.Mode().IsRegular() {
		return []string{path}, nil
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("%s: is %s, not a regular file or directory (use - to read standard input)", path, fileType(info.Mode()))
	}
	root := path
	if link, err := os.Lstat(path); err == nil && link.Mode()&fs.ModeSymlink != 0 {
		root += string(filepath.Separator) // named explicitly, a link to a directory is followed
	}
	var files []string
	var errs []error
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			errs = append(errs, pathError(err)) // an unreadable directory: report it, read the others
		case d.IsDir() || !hasManifestExtension(p):
		case d.Type().IsRegular():
			files = append(files, p)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Stat(p)
			switch {
			case err != nil:
				errs = append(errs, pathError(err))
			case target.Mode().IsRegular():
				files = append(files, p)
			case !target.IsDir():
				errs = append(errs, fmt.Errorf("%s: skipped: a symbolic link to %s, not to a regular file", p, fileType(target.Mode())))
			}
		default:
			errs = append(errs, fmt.Errorf("%s: skipped: %s, not a regular file", p, fileType(d.Type())))
		}
		return nil
	})
	if len(files) == 0 && len(errs) == 0 {
		return nil, fmt.Errorf("%s: no %s files in this directory", path, strings.Join(Extensions, ", "))
	}
	return files, errors.Join(errs...)
}

// hasManifestExtension compares like kubectl (resource.ignoreFile): case-sensitively.
func hasManifestExtension(p string) bool {
	return slices.Contains(Extensions, filepath.Ext(p))
}

func fileType(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsDir():
		return "a directory"
	}
	return "an irregular file"
}

// readFile reads a regular file. It opens without blocking and checks the opened file again, so that a file
// replaced by a named pipe after Files listed it cannot make Read wait for a writer.
func readFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, pathError(err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, pathError(err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: is %s, not a regular file", path, fileType(info.Mode()))
	}
	return readLimited(path, f)
}

func readStdin(stdin io.Reader) ([]byte, error) {
	if stdin == nil {
		return nil, nil // no standard input at all: Decode reports it as empty
	}
	return readLimited(StdinName, stdin)
}

// readLimited reads at most one byte more than MaxInputSize, so that an endless input ends with an error.
func readLimited(name string, r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxInputSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, unwrapPath(err))
	}
	if len(data) > MaxInputSize {
		return nil, errTooLarge(name)
	}
	return data, nil
}

func errTooLarge(name string) error {
	return fmt.Errorf("%s: larger than %d MiB, the limit for one input", name, MaxInputSize>>20)
}

// pathError drops the failed operation from an fs.PathError: "x.yaml: no such file or directory".
func pathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}

// unwrapPath drops the path and operation of an fs.PathError, for messages that already name the input.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
