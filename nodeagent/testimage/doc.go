// Package testimage builds container images for tests without a registry: an OCI image layout
// tarball holding one layer with Debian's static busybox (package busybox-static), its applets
// linked in /bin, /etc/passwd and /etc/group, /tmp and a page for busybox httpd. Import loads it
// into a runtime; the default image is DefaultName.
//
//	names, err := testimage.Import(ctx, rt, testimage.Options{})
//	// run `httpd -f -p 80 -h /var/www`, `sh -c 'timeout 5 wget -qO- http://127.0.0.1/'`, ...
//
// Debian's busybox 1.35 wget crashes with -T; bound it with `timeout N wget ...` instead
// (RUNTIME.md pitfall 14). BuildWebserver compiles a small Go HTTP server for tests that need
// more than httpd.
package testimage
