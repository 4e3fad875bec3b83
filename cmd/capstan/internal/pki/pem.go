package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"iter"
	"slices"
)

// minRSABits is the smallest RSA modulus accepted for CA and CSR keys.
const minRSABits = 2048

// encodePEM returns der as one PEM block of the given type.
func encodePEM(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// encodeCert returns a DER certificate as a PEM "CERTIFICATE" block.
func encodeCert(der []byte) []byte {
	return encodePEM("CERTIFICATE", der)
}

// encodeKey returns key as a PEM "PRIVATE KEY" (PKCS #8) block.
func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedKey, err)
	}
	return encodePEM("PRIVATE KEY", der), nil
}

// findBlock returns the first PEM block in data whose type is one of types. what names the
// expected content in errors.
func findBlock(data []byte, what string, types ...string) (*pem.Block, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: %s is empty", ErrInvalidPEM, what)
	}
	sawPEM := false
	for block := range decodeBlocks(data) {
		sawPEM = true
		if slices.Contains(types, block.Type) {
			return block, nil
		}
	}
	if !sawPEM {
		return nil, fmt.Errorf("%w: %s is not PEM", ErrInvalidPEM, what)
	}
	return nil, fmt.Errorf("%w: %s has no %q block", ErrInvalidPEM, what, types[0])
}

// decodeBlocks yields the PEM blocks of data in order, up to the first bytes
// that are not PEM.
func decodeBlocks(data []byte) iter.Seq[*pem.Block] {
	return func(yield func(*pem.Block) bool) {
		rest := data
		for {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil || !yield(block) {
				return
			}
		}
	}
}

// parseCert parses the first "CERTIFICATE" block of data. what names it in errors.
func parseCert(data []byte, what string) (*x509.Certificate, error) {
	block, err := findBlock(data, what, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidPEM, what, err)
	}
	return cert, nil
}

// parseKey parses the first private key block of data: PKCS #8, SEC 1 or PKCS #1. Other
// blocks, such as "EC PARAMETERS", are skipped. what names it in errors.
func parseKey(data []byte, what string) (crypto.Signer, error) {
	block, err := findBlock(data, what, "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	if block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] != "" {
		return nil, fmt.Errorf("%w: %s is encrypted", ErrUnsupportedKey, what)
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidPEM, what, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: %s of type %T cannot sign", ErrUnsupportedKey, what, key)
	}
	return signer, nil
}

// checkPublicKey rejects key types and sizes that are too weak or that crypto/x509 cannot
// certify. what names the key in errors.
func checkPublicKey(pub crypto.PublicKey, what string) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return nil
		}
		return fmt.Errorf("%w: %s uses curve %s; want P-256, P-384 or P-521", ErrUnsupportedKey, what, k.Curve.Params().Name)
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return fmt.Errorf("%w: %s is RSA-%d; want at least %d bits", ErrUnsupportedKey, what, k.N.BitLen(), minRSABits)
		}
		return nil
	case ed25519.PublicKey:
		return nil
	default:
		return fmt.Errorf("%w: %s has type %T", ErrUnsupportedKey, what, pub)
	}
}

// publicKeysEqual reports whether a and b are the same public key.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}
