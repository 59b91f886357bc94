//go:build unix

package manifest

import (
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// special makes a directory holding, besides regular files, a named pipe, a socket and symbolic links. Nothing
// ever writes to the pipe: opening it to read would wait forever.
func special(t *testing.T) string {
	t.Helper()
	dir := writeFiles(t, map[string]string{"a.yaml": pod("a"), "target.txt": pod("target")})
	other := writeFiles(t, map[string]string{"x.yaml": pod("x")})
	for _, name := range []string{"fifo.yaml", "fifo.txt"} {
		if err := syscall.Mkfifo(filepath.Join(dir, name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("unix", filepath.Join(dir, "sock.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	for link, target := range map[string]string{
		"link-file.yaml": "target.txt",
		"link-fifo.yaml": "fifo.txt",
		"link-dir.yaml":  other,
		"link-dir":       other,
		"broken.yaml":    "nowhere.yaml",
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReadSpecialFiles(t *testing.T) {
	dir := special(t)
	rel := func(p string) string { return filepath.Join(dir, p) }
	zero, err := os.Open("/dev/zero")
	if err != nil {
		t.Fatalf("opening /dev/zero: %v", err)
	}
	defer zero.Close()
	tests := map[string]readTest{
		"directory: regular files and links to them are read, the rest is reported": {
			paths: []string{dir},
			want:  []string{rel("a.yaml") + " a", rel("link-file.yaml") + " target"},
			wantErr: []string{
				rel("broken.yaml") + ": no such file or directory",
				rel("fifo.yaml") + ": skipped: a named pipe (FIFO), not a regular file",
				rel("link-fifo.yaml") + ": skipped: a symbolic link to a named pipe (FIFO), not to a regular file",
				rel("sock.yaml") + ": skipped: a socket, not a regular file",
			},
		},
		"named pipe": {
			paths:   []string{rel("fifo.yaml")},
			wantErr: []string{rel("fifo.yaml") + ": is a named pipe (FIFO), not a regular file or directory (use - to read standard input)"},
		},
		"link to a named pipe": {
			paths:   []string{rel("link-fifo.yaml")},
			wantErr: []string{rel("link-fifo.yaml") + ": is a named pipe (FIFO), not a regular file or directory"},
		},
		"/dev/zero": {
			paths:   []string{"/dev/zero"},
			wantErr: []string{"/dev/zero: is a character device, not a regular file or directory"},
		},
		"a link to a file named explicitly": {
			paths: []string{rel("link-file.yaml")},
			want:  []string{rel("link-file.yaml") + " target"},
		},
		// The first reader walked the link itself and found no files; kubectl fails ("is a directory").
		"a link to a directory named explicitly is followed": {
			paths: []string{rel("link-dir")},
			want:  []string{filepath.Join(rel("link-dir"), "x.yaml") + " x"},
		},
		"/dev/zero as stdin": {
			paths:   []string{"-"},
			stdin:   zero,
			wantErr: []string{"<stdin>: larger than 32 MiB, the limit for one input"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) { runRead(t, tc) })
	}
}

// A file replaced by a named pipe after Files listed it is not waited on either.
func TestReadFileBecameAPipe(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.yaml")
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	quickly(t, func() { _, err = readFile(p) })
	if want := p + ": is a named pipe (FIFO), not a regular file"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}
