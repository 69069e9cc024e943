//go:build amd64

package seccomp

import "testing"

func BenchmarkCompileDockerDefault(b *testing.B) {
	for b.Loop() {
		if _, err := Compile(DockerDefault(dockerCaps)); err != nil {
			b.Fatal(err)
		}
	}
}
