package server

import (
	"net"
	"strconv"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// TestStartedChecker: not started fails; started, a request begun within recentRequest passes without a handshake
// (the port here accepts nothing, so a handshake would fail); without one, the checker dials, and fails on a port
// nothing listens on.
func TestStartedChecker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there now
	for name, tc := range map[string]struct {
		started     bool
		lastRequest time.Duration // ago; 0: never
		wantErr     bool
	}{
		"not started":                      {wantErr: true},
		"started, a request 1s ago":        {started: true, lastRequest: time.Second},
		"started, the last request 1m ago": {started: true, lastRequest: time.Minute, wantErr: true},
		"started, no request yet":          {started: true, wantErr: true},
	} {
		t.Run(name, func(t *testing.T) {
			s := newWebhookServer(webhook.Options{Host: "127.0.0.1", Port: port}, time.Second, time.Second)
			s.started.Store(tc.started)
			if tc.lastRequest > 0 {
				s.lastRequest.Store(time.Now().Add(-tc.lastRequest).UnixNano())
			}
			err := s.StartedChecker()(nil)
			if (err != nil) != tc.wantErr {
				t.Errorf("StartedChecker on 127.0.0.1:%s: %v, want error %v", strconv.Itoa(port), err, tc.wantErr)
			}
		})
	}
}
