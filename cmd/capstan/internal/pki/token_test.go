package pki

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestJoinTokenRoundTrip(t *testing.T) {
	ca := newTestCA(t, "ca")
	wantHash, err := CAHash(ca.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	token, err := NewJoinToken(ca.CertPEM)
	if err != nil {
		t.Fatalf("NewJoinToken = %v", err)
	}
	if len(token) != 2+64+2+64 || !strings.HasPrefix(token, "K1"+wantHash+"::") {
		t.Fatalf("NewJoinToken = %d characters %.70q...; want K1<CA hash>::<64 hex>", len(token), token)
	}
	secret := strings.TrimPrefix(token, "K1"+wantHash+"::")

	tests := []struct {
		name  string
		token string
	}{
		{name: "as issued", token: token},
		{name: "trailing newline", token: token + "\n"},
		{name: "upper-case hex", token: "K1" + strings.ToUpper(token[2:])},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotHash, gotSecret, err := ParseJoinToken(tt.token)
			if err != nil || gotHash != wantHash || gotSecret != secret {
				t.Errorf("ParseJoinToken = %q, %q, %v; want %q, %q, nil", gotHash, gotSecret, err, wantHash, secret)
			}
		})
	}

	again, err := NewJoinToken(ca.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	if again == token {
		t.Error("two NewJoinToken calls returned the same token")
	}
	if _, err := NewJoinToken([]byte("not a certificate")); !errors.Is(err, ErrInvalidPEM) {
		t.Errorf("NewJoinToken(not PEM) = %v; want ErrInvalidPEM", err)
	}
}

func TestParseJoinTokenMalformed(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	secret := strings.Repeat("5e", 32)
	tests := []struct {
		name   string
		token  string
		secret string // a secret-like part that must not appear in the error
		want   string
	}{
		{name: "empty", token: "  ", want: "token is empty"},
		{name: "wrong prefix", token: "K2" + hash + "::" + secret, secret: secret, want: `does not start with "K1"`},
		{name: "secret only", token: secret, secret: secret, want: `does not start with "K1"`},
		{name: "k3s-style user and password", token: "K10" + hash + "::server:" + secret, secret: secret, want: "CA hash has 65 characters; want 64"},
		{name: "missing separator", token: "K1" + hash + secret, secret: secret, want: `no "::" between`},
		{name: "short hash", token: "K1" + hash[:62] + "::" + secret, secret: secret, want: "CA hash has 62 characters; want 64"},
		{name: "long hash", token: "K1" + hash + "00::" + secret, secret: secret, want: "CA hash has 66 characters; want 64"},
		{name: "non-hex hash", token: "K1" + strings.Repeat("zz", 32) + "::" + secret, secret: secret, want: "CA hash is not hexadecimal"},
		{name: "missing secret", token: "K1" + hash + "::", want: "secret after \"::\" is missing"},
		{name: "short secret", token: "K1" + hash + "::" + secret[:40], secret: secret[:40], want: "secret has 40 characters; want 64"},
		{name: "non-hex secret", token: "K1" + hash + "::" + strings.Repeat("s3cr3t!!", 8), secret: "s3cr3t", want: "secret is not hexadecimal"},
		{name: "second separator", token: "K1" + hash + "::" + secret[:30] + "::" + secret[:32], secret: secret[:30], want: "secret is not hexadecimal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotHash, gotSecret, err := ParseJoinToken(tt.token)
			if !errors.Is(err, ErrMalformedToken) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseJoinToken(%s) = %q, %q, %v; want ErrMalformedToken containing %q", tt.name, gotHash, gotSecret, err, tt.want)
			}
			if gotHash != "" || gotSecret != "" {
				t.Errorf("ParseJoinToken(%s) returned %q, %q with an error; want empty", tt.name, gotHash, gotSecret)
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("ParseJoinToken(%s) error %q contains the secret", tt.name, err)
			}
			if strings.Contains(err.Error(), strings.TrimSpace(tt.token)) && strings.TrimSpace(tt.token) != "" {
				t.Errorf("ParseJoinToken(%s) error %q contains the token", tt.name, err)
			}
		})
	}
}

func TestCheckSecret(t *testing.T) {
	secret := strings.Repeat("0f", 32)
	stored := HashSecret(secret)
	if len(stored) != 64 || !isHex(stored) || stored == secret {
		t.Fatalf("HashSecret = %q; want 64 hex characters differing from the secret", stored)
	}
	tests := []struct {
		name   string
		secret string
		stored string
		want   bool
	}{
		{name: "match", secret: secret, stored: stored, want: true},
		{name: "upper-case stored hash", secret: secret, stored: strings.ToUpper(stored), want: true},
		{name: "other secret", secret: strings.Repeat("0e", 32), stored: stored, want: false},
		{name: "empty secret", secret: "", stored: stored, want: false},
		{name: "secret compared with itself", secret: secret, stored: secret, want: false},
		{name: "truncated stored hash", secret: secret, stored: stored[:62], want: false},
		{name: "non-hex stored hash", secret: secret, stored: strings.Repeat("x", 64), want: false},
		{name: "empty stored hash", secret: secret, stored: "", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CheckSecret(tt.secret, tt.stored); got != tt.want {
				t.Errorf("CheckSecret(%q, %q) = %v; want %v", tt.secret, tt.stored, got, tt.want)
			}
		})
	}
}

func TestNewBearerToken(t *testing.T) {
	a, err := NewBearerToken()
	if err != nil {
		t.Fatalf("NewBearerToken = %v", err)
	}
	b, err := NewBearerToken()
	if err != nil {
		t.Fatalf("NewBearerToken = %v", err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(a)
	if err != nil || len(raw) != 32 || len(a) != 43 {
		t.Errorf("NewBearerToken = %q (%d characters, decodes to %d bytes, %v); want 43 characters of base64url for 32 bytes", a, len(a), len(raw), err)
	}
	if a == b {
		t.Errorf("NewBearerToken twice = %q; want different tokens", a)
	}
}

func TestNewGossipKey(t *testing.T) {
	a, err := NewGossipKey()
	if err != nil || len(a) != 32 {
		t.Fatalf("NewGossipKey = %d bytes, %v; want 32 bytes", len(a), err)
	}
	b, err := NewGossipKey()
	if err != nil {
		t.Fatal(err)
	}
	if string(a) == string(b) {
		t.Error("NewGossipKey twice returned the same key")
	}
}
