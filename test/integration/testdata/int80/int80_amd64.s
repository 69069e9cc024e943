#include "textflag.h"

// func int80(nr, a0, a1, a2 uint64) int64
TEXT ·int80(SB), NOSPLIT, $0-40
	MOVQ	nr+0(FP), AX
	MOVQ	a0+8(FP), BX
	MOVQ	a1+16(FP), CX
	MOVQ	a2+24(FP), DX
	INT	$0x80
	MOVLQSX	AX, AX
	MOVQ	AX, ret+32(FP)
	RET
