package reliability

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/test/testenv"
)

// TestIdleConnectionOutlivesTheDrain is the mechanism behind zero failed admissions through a restart, made
// deterministic: a client's keep-alive connection that stayed idle through the whole shutdown delay is still open
// after it, and a request written on it then is answered (with "Connection: close"), because the server waits for
// its clients to close idle connections (--client-idle-timeout) instead of closing them. The control, with
// --client-idle-timeout=0, closes the idle connection when the delay ends: the same request reads EOF, which the API
// server does not retry for a POST — the failure the rolling-restart test used to tolerate.
func TestIdleConnectionOutlivesTheDrain(t *testing.T) {
	body, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "examples", "admission-review", "pod.json"))
	if err != nil {
		t.Fatal(err)
	}
	const delay = time.Second
	for name, tc := range map[string]struct {
		args     []string
		wantFail bool
	}{
		"waiting for the client":        {},
		"control: closing idle at once": {args: []string{"--client-idle-timeout", "0s"}, wantFail: true},
	} {
		t.Run(name, func(t *testing.T) {
			p := serve(t, "serve", serveOptions{shutdownDelay: delay, args: tc.args})
			conn, err := tls.Dial("tcp", p.webhookAddr, tlsConfig(t, p.caPEM))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			r := bufio.NewReader(conn)
			post := func() (*http.Response, error) {
				req, err := http.NewRequest(http.MethodPost, "https://"+p.webhookAddr+names.PathMutatePod, bytes.NewReader(body))
				if err != nil {
					return nil, err
				}
				req.Header.Set("Content-Type", "application/json")
				if err := req.Write(conn); err != nil {
					return nil, err
				}
				resp, err := http.ReadResponse(r, req)
				if err != nil {
					return nil, err
				}
				_, err = io.Copy(io.Discard, resp.Body)
				return resp, err
			}
			if resp, err := post(); err != nil || resp.StatusCode != http.StatusOK || resp.Close {
				t.Fatalf("first request: %v %v (close %v)", err, resp, resp != nil && resp.Close)
			}
			sig := p.sigterm(t)
			// Idle through the delay and past it: a server that closes idle connections has closed this one.
			time.Sleep(delay + 1500*time.Millisecond)
			resp, err := post()
			got := fmt.Sprintf("%v", err)
			if err == nil {
				got = fmt.Sprintf("HTTP %d, Connection: close %v", resp.StatusCode, resp.Close)
			}
			t.Logf("a request %s after SIGTERM on a connection idle since before it: %s", time.Since(sig).Round(100*time.Millisecond), got)
			switch {
			case tc.wantFail && err == nil:
				t.Errorf("the control answered (%s): it shows nothing", got)
			case !tc.wantFail && (err != nil || resp.StatusCode != http.StatusOK || !resp.Close):
				t.Errorf("want HTTP 200 with Connection: close, got %s", got)
			}
			conn.Close()
			exited := p.wait(t, delay+testClientIdle+30*time.Second)
			t.Logf("exited %s after SIGTERM", exited.Sub(sig).Round(100*time.Millisecond))
		})
	}
}
