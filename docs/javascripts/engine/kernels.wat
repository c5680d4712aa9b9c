;; The engine's kernels in WebAssembly with SIMD (128-bit vectors: 4 floats, 8 int16 or 16 bytes).
;; Built into kernels.wasm by tools/build_wasm.mjs (the wabt package); model.js calls them.
;;
;; Every pointer is a byte offset into the one memory the model allocates (weights, KV cache,
;; activations). Matrices are GGUF blocks exactly as the file stores them (see kernels.js):
;;   Q4_1: 20 bytes for 32 weights: f16 d, f16 m, 16 bytes whose low nibbles are weights 0..15
;;         and high nibbles weights 16..31;  w = d q + m, so  Σ w x = d Σ q x + m Σ x.
;;   Q8_0: 34 bytes for 32 weights: f16 d, 32 int8 q;  w = d q.
;; A product runs over T positions: out[t rows + r] = Σ_c W[r, c] x[t cols + c]. Each weight
;; block is decoded once for up to 4 positions (a prefill reads the weights T/4 times, not T).
;;
;; Two kinds of input:
;; - exact (…_f32): x as float32; the m Σ x term uses Σ x per 32-block, from $sums;
;; - fast (…_i16): x as int16 per 32-block with its own scale xd (from $quantize), and
;;   i32x4.dot_i16x8_s multiplies 8 pairs and adds them in pairs, exactly, in integers.

(module
  (import "env" "memory" (memory 1))

  ;; ---------------------------------------------------------------- helpers

  ;; The float16 at byte p as a float32, looked up: model.js fills a table of all 65,536 values
  ;; (kernels.js's halfToFloat) and gives its place to set_halves. Two loads; converting the bits
  ;; (exponent and fraction shifted into a float32's place, times 2^112) took 8 instructions and
  ;; made the int16 kernels a quarter slower.
  (global $halves (mut i32) (i32.const 0))
  (func (export "set_halves") (param $table i32) (global.set $halves (local.get $table)))
  (func $half (param $p i32) (result f32)
    (f32.load (i32.add (global.get $halves) (i32.shl (i32.load16_u (local.get $p)) (i32.const 2)))))

  ;; The sum of a vector's four floats.
  (func $hsum (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  ;; e^x for four floats x <= 0 (Cephes' expf: x = n ln2 + r, a degree-5 polynomial in r,
  ;; times 2^n built from its bits; within 2 float32 ulps). Below -87.3 (e^x < 1.2e-38) it is 0.
  (func $exp4 (param $x v128) (result v128)
    (local $r v128) (local $n v128) (local $y v128)
    (local.set $r (f32x4.max (local.get $x) (v128.const f32x4 -87.33654 -87.33654 -87.33654 -87.33654)))
    (local.set $n (f32x4.floor (f32x4.add
      (f32x4.mul (local.get $r) (v128.const f32x4 1.44269504 1.44269504 1.44269504 1.44269504))
      (v128.const f32x4 0.5 0.5 0.5 0.5))))
    (local.set $r (f32x4.sub (local.get $r) (f32x4.mul (local.get $n) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375))))
    (local.set $r (f32x4.sub (local.get $r) (f32x4.mul (local.get $n) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
    (local.set $y (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $r)) (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $r)) (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $r)) (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $r)) (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $r)) (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
    (local.set $y (f32x4.add (f32x4.add (f32x4.mul (local.get $y) (f32x4.mul (local.get $r) (local.get $r))) (local.get $r))
                             (v128.const f32x4 1 1 1 1)))
    (local.set $y (f32x4.mul (local.get $y)
      (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $n)) (v128.const i32x4 127 127 127 127)) (i32.const 23))))
    (v128.and (local.get $y)
      (f32x4.ge (local.get $x) (v128.const f32x4 -87.33654 -87.33654 -87.33654 -87.33654))))

  ;; ---------------------------------------------------------------- inputs

  ;; out[b] = x[32 b] + ... + x[32 b + 31] for the n floats at x (n a multiple of 32).
  (func (export "sums") (param $x i32) (param $n i32) (param $out i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
      (f32.store (local.get $out) (call $hsum
        (f32x4.add
          (f32x4.add (f32x4.add (v128.load (local.get $x)) (v128.load offset=16 (local.get $x)))
                     (f32x4.add (v128.load offset=32 (local.get $x)) (v128.load offset=48 (local.get $x))))
          (f32x4.add (f32x4.add (v128.load offset=64 (local.get $x)) (v128.load offset=80 (local.get $x)))
                     (f32x4.add (v128.load offset=96 (local.get $x)) (v128.load offset=112 (local.get $x)))))))
      (local.set $x (i32.add (local.get $x) (i32.const 128)))
      (local.set $out (i32.add (local.get $out) (i32.const 4)))
      (br $next))))

  ;; The n floats at x as int16, 32 at a time with a scale each: xq = round(x / xd) with
  ;; xd = max |x| / 32767 over the block (0 for a block of zeros). Per block, xds gets two
  ;; floats: xd, and Σ x (for Q4_1's m Σ x term), so one pointer walks both.
  (func (export "quantize") (param $x i32) (param $n i32) (param $xq i32) (param $xds i32)
    (local $end i32) (local $i i32) (local $amax v128) (local $inv v128) (local $a f32)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
      (local.set $amax (f32x4.max
        (f32x4.max (f32x4.max (f32x4.abs (v128.load (local.get $x))) (f32x4.abs (v128.load offset=16 (local.get $x))))
                   (f32x4.max (f32x4.abs (v128.load offset=32 (local.get $x))) (f32x4.abs (v128.load offset=48 (local.get $x)))))
        (f32x4.max (f32x4.max (f32x4.abs (v128.load offset=64 (local.get $x))) (f32x4.abs (v128.load offset=80 (local.get $x))))
                   (f32x4.max (f32x4.abs (v128.load offset=96 (local.get $x))) (f32x4.abs (v128.load offset=112 (local.get $x)))))))
      (local.set $a (f32.max
        (f32.max (f32x4.extract_lane 0 (local.get $amax)) (f32x4.extract_lane 1 (local.get $amax)))
        (f32.max (f32x4.extract_lane 2 (local.get $amax)) (f32x4.extract_lane 3 (local.get $amax)))))
      (f32.store (local.get $xds) (f32.div (local.get $a) (f32.const 32767)))
      (f32.store offset=4 (local.get $xds) (call $hsum
        (f32x4.add
          (f32x4.add (f32x4.add (v128.load (local.get $x)) (v128.load offset=16 (local.get $x)))
                     (f32x4.add (v128.load offset=32 (local.get $x)) (v128.load offset=48 (local.get $x))))
          (f32x4.add (f32x4.add (v128.load offset=64 (local.get $x)) (v128.load offset=80 (local.get $x)))
                     (f32x4.add (v128.load offset=96 (local.get $x)) (v128.load offset=112 (local.get $x)))))))
      (local.set $inv (f32x4.splat
        (select (f32.div (f32.const 32767) (local.get $a)) (f32.const 0) (f32.gt (local.get $a) (f32.const 0)))))
      ;; 8 vectors of 4 floats -> 4 vectors of 8 int16, two float vectors narrowed into one
      (local.set $i (i32.const 0))
      (loop $pairs
        (v128.store (local.get $xq) (i16x8.narrow_i32x4_s
          (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load (local.get $x)) (local.get $inv))))
          (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=16 (local.get $x)) (local.get $inv))))))
        (local.set $x (i32.add (local.get $x) (i32.const 32)))
        (local.set $xq (i32.add (local.get $xq) (i32.const 16)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $pairs (i32.lt_u (local.get $i) (i32.const 4))))
      (local.set $xds (i32.add (local.get $xds) (i32.const 8)))
      (br $next))))

  ;; ---------------------------------------------------------------- products
  ;;
  ;; Each format and input kind has two inner kernels with one signature: "_1" does one
  ;; position, "_4" four (the block decoded once for all four). Arguments: the row's blocks
  ;; p..end, the input x (position stride xstride), its per-block scalars s (stride sstride:
  ;; Σ x for exact Q4_1; xd and Σ x for the int16 kinds), where the result goes (stride ostride).

  (type $inner (func (param i32 i32 i32 i32 i32 i32 i32 i32)))

  ;; Inner kernel `kind` (0..3: q4_1_f32, q8_0_f32, q4_1_i16, q8_0_i16) on `four` positions or one.
  ;; Direct calls, not call_indirect through a table: V8 then compiles each kernel on its own (with
  ;; a table it inlined them into the loop below and ran the prefill 2.5x slower).
  (func $kernel (param $kind i32) (param $four i32) (param $p i32) (param $end i32) (param $x i32) (param $xstride i32)
                (param $s i32) (param $sstride i32) (param $o i32) (param $ostride i32)
    (block $q8_0_i16 (block $q4_1_i16 (block $q8_0_f32 (block $q4_1_f32
      (br_table $q4_1_f32 $q8_0_f32 $q4_1_i16 $q8_0_i16 (local.get $kind)))
      (if (local.get $four)
        (then (call $q4_1_f32_4 (local.get $p) (local.get $end) (local.get $x) (local.get $xstride) (local.get $s) (local.get $sstride) (local.get $o) (local.get $ostride)))
        (else (call $q4_1_f32_1 (local.get $p) (local.get $end) (local.get $x) (local.get $xstride) (local.get $s) (local.get $sstride) (local.get $o) (local.get $ostride))))
      (return))
      (if (local.get $four)
        (then (call $q8_0_f32_4 (local.get $p) (local.get $end) (local.get $x) (local.get $xstride) (local.get $s) (local.get $sstride) (local.get $o) (local.get $ostride)))
        (else (call $q8_0_f32_1 (local.get $p) (local.get $end) (local.get $x) (local.get $xstride) (local.get $s) (local.get $sstride) (local.get $o) (local.get $ostride))))
      (return))
      (if (local.get $four)
        (then (call $q4_1_i16_4 (local.get $p) (local.get $end) (local.get $x) (local.get $xstride) (local.get $s) (local.get $sstride) (local.get $o) (local.get $ostride)))
        (else (call $q4_1_i16_1 (local.get $p) (local.get $end) (local.get $x) (local.get $xstride) (local.get $s) (local.get $sstride) (local.get $o) (local.get $ostride))))
      (return))
    (if (local.get $four)
      (then (call $q8_0_i16_4 (local.get $p) (local.get $end) (local.get $x) (local.get $xstride) (local.get $s) (local.get $sstride) (local.get $o) (local.get $ostride)))
      (else (call $q8_0_i16_1 (local.get $p) (local.get $end) (local.get $x) (local.get $xstride) (local.get $s) (local.get $sstride) (local.get $o) (local.get $ostride)))))

  ;; out (T, rows) = x (T, cols) W^T with kernel `kind`: tiles of 4 positions, then one at a time.
  (func $product (param $kind i32) (param $w i32) (param $blockBytes i32) (param $rows i32) (param $cols i32)
                 (param $x i32) (param $xstride i32) (param $s i32) (param $sstride i32) (param $out i32) (param $T i32)
    (local $r i32) (local $t i32) (local $p i32) (local $rowBytes i32) (local $ostride i32)
    (local.set $rowBytes (i32.mul (i32.shr_u (local.get $cols) (i32.const 5)) (local.get $blockBytes)))
    (local.set $ostride (i32.shl (local.get $rows) (i32.const 2)))
    (local.set $r (i32.const 0))
    (loop $row
      (local.set $p (i32.add (local.get $w) (i32.mul (local.get $r) (local.get $rowBytes))))
      (local.set $t (i32.const 0))
      (block $done (loop $tile
        (br_if $done (i32.gt_u (i32.add (local.get $t) (i32.const 4)) (local.get $T)))
        (call $kernel (local.get $kind) (i32.const 1) (local.get $p) (i32.add (local.get $p) (local.get $rowBytes))
          (i32.add (local.get $x) (i32.mul (local.get $t) (local.get $xstride))) (local.get $xstride)
          (i32.add (local.get $s) (i32.mul (local.get $t) (local.get $sstride))) (local.get $sstride)
          (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (local.get $t) (local.get $rows)) (local.get $r)) (i32.const 2)))
          (local.get $ostride))
        (local.set $t (i32.add (local.get $t) (i32.const 4)))
        (br $tile)))
      (block $done (loop $one
        (br_if $done (i32.ge_u (local.get $t) (local.get $T)))
        (call $kernel (local.get $kind) (i32.const 0) (local.get $p) (i32.add (local.get $p) (local.get $rowBytes))
          (i32.add (local.get $x) (i32.mul (local.get $t) (local.get $xstride))) (local.get $xstride)
          (i32.add (local.get $s) (i32.mul (local.get $t) (local.get $sstride))) (local.get $sstride)
          (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (local.get $t) (local.get $rows)) (local.get $r)) (i32.const 2)))
          (local.get $ostride))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $one)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br_if $row (i32.lt_u (local.get $r) (local.get $rows)))))

  ;; The exported products (pointers into memory; T positions; see model.js's matmul).
  (func (export "q4_1_f32") (param $w i32) (param $rows i32) (param $cols i32) (param $x i32) (param $xs i32)
                            (param $out i32) (param $T i32)
    (call $product (i32.const 0) (local.get $w) (i32.const 20) (local.get $rows) (local.get $cols)
      (local.get $x) (i32.shl (local.get $cols) (i32.const 2)) (local.get $xs) (i32.shr_u (local.get $cols) (i32.const 3))
      (local.get $out) (local.get $T)))
  (func (export "q8_0_f32") (param $w i32) (param $rows i32) (param $cols i32) (param $x i32) (param $out i32) (param $T i32)
    (call $product (i32.const 1) (local.get $w) (i32.const 34) (local.get $rows) (local.get $cols)
      (local.get $x) (i32.shl (local.get $cols) (i32.const 2)) (i32.const 0) (i32.const 0) (local.get $out) (local.get $T)))
  (func (export "q4_1_i16") (param $w i32) (param $rows i32) (param $cols i32) (param $xq i32) (param $xds i32)
                            (param $out i32) (param $T i32)
    (call $product (i32.const 2) (local.get $w) (i32.const 20) (local.get $rows) (local.get $cols)
      (local.get $xq) (i32.shl (local.get $cols) (i32.const 1)) (local.get $xds) (i32.shr_u (local.get $cols) (i32.const 2))
      (local.get $out) (local.get $T)))
  (func (export "q8_0_i16") (param $w i32) (param $rows i32) (param $cols i32) (param $xq i32) (param $xds i32)
                            (param $out i32) (param $T i32)
    (call $product (i32.const 3) (local.get $w) (i32.const 34) (local.get $rows) (local.get $cols)
      (local.get $xq) (i32.shl (local.get $cols) (i32.const 1)) (local.get $xds) (i32.shr_u (local.get $cols) (i32.const 2))
      (local.get $out) (local.get $T)))

  ;; ---- Q4_1, float32 input

  ;; Σ q x over one block for 8 vectors of weights and the 32 floats at x (a tree of adds).
  (func $dot32 (param $x i32) (param $q0 v128) (param $q1 v128) (param $q2 v128) (param $q3 v128)
               (param $q4 v128) (param $q5 v128) (param $q6 v128) (param $q7 v128) (result v128)
    (f32x4.add
      (f32x4.add
        (f32x4.add (f32x4.mul (local.get $q0) (v128.load (local.get $x))) (f32x4.mul (local.get $q1) (v128.load offset=16 (local.get $x))))
        (f32x4.add (f32x4.mul (local.get $q2) (v128.load offset=32 (local.get $x))) (f32x4.mul (local.get $q3) (v128.load offset=48 (local.get $x)))))
      (f32x4.add
        (f32x4.add (f32x4.mul (local.get $q4) (v128.load offset=64 (local.get $x))) (f32x4.mul (local.get $q5) (v128.load offset=80 (local.get $x))))
        (f32x4.add (f32x4.mul (local.get $q6) (v128.load offset=96 (local.get $x))) (f32x4.mul (local.get $q7) (v128.load offset=112 (local.get $x)))))))

  (func $q4_1_f32_1 (type $inner) (param $p i32) (param $end i32) (param $x i32) (param $xstride i32)
                                  (param $s i32) (param $sstride i32) (param $o i32) (param $ostride i32)
    (local $lo v128) (local $hi v128) (local $acc v128) (local $ms f32)
    (loop $block
      (local.set $lo (v128.and (v128.load offset=4 (local.get $p)) (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15)))
      (local.set $hi (i8x16.shr_u (v128.load offset=4 (local.get $p)) (i32.const 4)))
      (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (f32x4.splat (call $half (local.get $p)))
        (call $dot32 (local.get $x)
          (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u (local.get $lo))))
          (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_u (i16x8.extend_low_i8x16_u (local.get $lo))))
          (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (i16x8.extend_high_i8x16_u (local.get $lo))))
          (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_u (i16x8.extend_high_i8x16_u (local.get $lo))))
          (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u (local.get $hi))))
          (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_u (i16x8.extend_low_i8x16_u (local.get $hi))))
          (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (i16x8.extend_high_i8x16_u (local.get $hi))))
          (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_u (i16x8.extend_high_i8x16_u (local.get $hi))))))))
      (local.set $ms (f32.add (local.get $ms) (f32.mul (call $half (i32.add (local.get $p) (i32.const 2))) (f32.load (local.get $s)))))
      (local.set $x (i32.add (local.get $x) (i32.const 128)))
      (local.set $s (i32.add (local.get $s) (i32.const 4)))
      (local.set $p (i32.add (local.get $p) (i32.const 20)))
      (br_if $block (i32.lt_u (local.get $p) (local.get $end))))
    (f32.store (local.get $o) (f32.add (call $hsum (local.get $acc)) (local.get $ms))))

  (func $q4_1_f32_4 (type $inner) (param $p i32) (param $end i32) (param $x i32) (param $xstride i32)
                                  (param $s i32) (param $sstride i32) (param $o i32) (param $ostride i32)
    (local $lo v128) (local $hi v128) (local $d v128) (local $m f32)
    (local $q0 v128) (local $q1 v128) (local $q2 v128) (local $q3 v128) (local $q4 v128) (local $q5 v128) (local $q6 v128) (local $q7 v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $m0 f32) (local $m1 f32) (local $m2 f32) (local $m3 f32)
    (loop $block
      (local.set $d (f32x4.splat (call $half (local.get $p))))
      (local.set $m (call $half (i32.add (local.get $p) (i32.const 2))))
      (local.set $lo (v128.and (v128.load offset=4 (local.get $p)) (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15)))
      (local.set $hi (i8x16.shr_u (v128.load offset=4 (local.get $p)) (i32.const 4)))
      (local.set $q0 (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u (local.get $lo)))))
      (local.set $q1 (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_u (i16x8.extend_low_i8x16_u (local.get $lo)))))
      (local.set $q2 (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (i16x8.extend_high_i8x16_u (local.get $lo)))))
      (local.set $q3 (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_u (i16x8.extend_high_i8x16_u (local.get $lo)))))
      (local.set $q4 (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u (local.get $hi)))))
      (local.set $q5 (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_u (i16x8.extend_low_i8x16_u (local.get $hi)))))
      (local.set $q6 (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (i16x8.extend_high_i8x16_u (local.get $hi)))))
      (local.set $q7 (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_u (i16x8.extend_high_i8x16_u (local.get $hi)))))
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $d) (call $dot32 (local.get $x)
        (local.get $q0) (local.get $q1) (local.get $q2) (local.get $q3) (local.get $q4) (local.get $q5) (local.get $q6) (local.get $q7)))))
      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $d) (call $dot32 (i32.add (local.get $x) (local.get $xstride))
        (local.get $q0) (local.get $q1) (local.get $q2) (local.get $q3) (local.get $q4) (local.get $q5) (local.get $q6) (local.get $q7)))))
      (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $d) (call $dot32 (i32.add (local.get $x) (i32.shl (local.get $xstride) (i32.const 1)))
        (local.get $q0) (local.get $q1) (local.get $q2) (local.get $q3) (local.get $q4) (local.get $q5) (local.get $q6) (local.get $q7)))))
      (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $d) (call $dot32 (i32.add (local.get $x) (i32.mul (local.get $xstride) (i32.const 3)))
        (local.get $q0) (local.get $q1) (local.get $q2) (local.get $q3) (local.get $q4) (local.get $q5) (local.get $q6) (local.get $q7)))))
      (local.set $m0 (f32.add (local.get $m0) (f32.mul (local.get $m) (f32.load (local.get $s)))))
      (local.set $m1 (f32.add (local.get $m1) (f32.mul (local.get $m) (f32.load (i32.add (local.get $s) (local.get $sstride))))))
      (local.set $m2 (f32.add (local.get $m2) (f32.mul (local.get $m) (f32.load (i32.add (local.get $s) (i32.shl (local.get $sstride) (i32.const 1)))))))
      (local.set $m3 (f32.add (local.get $m3) (f32.mul (local.get $m) (f32.load (i32.add (local.get $s) (i32.mul (local.get $sstride) (i32.const 3)))))))
      (local.set $x (i32.add (local.get $x) (i32.const 128)))
      (local.set $s (i32.add (local.get $s) (i32.const 4)))
      (local.set $p (i32.add (local.get $p) (i32.const 20)))
      (br_if $block (i32.lt_u (local.get $p) (local.get $end))))
    (call $store4 (local.get $o) (local.get $ostride)
      (f32.add (call $hsum (local.get $a0)) (local.get $m0)) (f32.add (call $hsum (local.get $a1)) (local.get $m1))
      (f32.add (call $hsum (local.get $a2)) (local.get $m2)) (f32.add (call $hsum (local.get $a3)) (local.get $m3))))

  ;; four results, ostride bytes apart
  (func $store4 (param $o i32) (param $ostride i32) (param $v0 f32) (param $v1 f32) (param $v2 f32) (param $v3 f32)
    (f32.store (local.get $o) (local.get $v0))
    (f32.store (i32.add (local.get $o) (local.get $ostride)) (local.get $v1))
    (f32.store (i32.add (local.get $o) (i32.shl (local.get $ostride) (i32.const 1))) (local.get $v2))
    (f32.store (i32.add (local.get $o) (i32.mul (local.get $ostride) (i32.const 3))) (local.get $v3)))

  ;; ---- Q8_0, float32 input (the output layer and, tied, the embedding)

  ;; the 32 int8 weights of the block at p as 8 vectors of 4 floats, consumed by $dot32 directly
  (func $q8_0_f32_1 (type $inner) (param $p i32) (param $end i32) (param $x i32) (param $xstride i32)
                                  (param $s i32) (param $sstride i32) (param $o i32) (param $ostride i32)
    (local $b0 v128) (local $b1 v128) (local $acc v128)
    (loop $block
      (local.set $b0 (v128.load offset=2 (local.get $p)))  ;; weights 0..15
      (local.set $b1 (v128.load offset=18 (local.get $p)))  ;; weights 16..31
      (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (f32x4.splat (call $half (local.get $p)))
        (call $dot32 (local.get $x)
          (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (i16x8.extend_low_i8x16_s (local.get $b0))))
          (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (i16x8.extend_low_i8x16_s (local.get $b0))))
          (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (i16x8.extend_high_i8x16_s (local.get $b0))))
          (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (i16x8.extend_high_i8x16_s (local.get $b0))))
          (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (i16x8.extend_low_i8x16_s (local.get $b1))))
          (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (i16x8.extend_low_i8x16_s (local.get $b1))))
          (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (i16x8.extend_high_i8x16_s (local.get $b1))))
          (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (i16x8.extend_high_i8x16_s (local.get $b1))))))))
      (local.set $x (i32.add (local.get $x) (i32.const 128)))
      (local.set $p (i32.add (local.get $p) (i32.const 34)))
      (br_if $block (i32.lt_u (local.get $p) (local.get $end))))
    (f32.store (local.get $o) (call $hsum (local.get $acc))))

  (func $q8_0_f32_4 (type $inner) (param $p i32) (param $end i32) (param $x i32) (param $xstride i32)
                                  (param $s i32) (param $sstride i32) (param $o i32) (param $ostride i32)
    (local $b0 v128) (local $b1 v128) (local $d v128)
    (local $q0 v128) (local $q1 v128) (local $q2 v128) (local $q3 v128) (local $q4 v128) (local $q5 v128) (local $q6 v128) (local $q7 v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (loop $block
      (local.set $d (f32x4.splat (call $half (local.get $p))))
      (local.set $b0 (v128.load offset=2 (local.get $p)))
      (local.set $b1 (v128.load offset=18 (local.get $p)))
      (local.set $q0 (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (i16x8.extend_low_i8x16_s (local.get $b0)))))
      (local.set $q1 (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (i16x8.extend_low_i8x16_s (local.get $b0)))))
      (local.set $q2 (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (i16x8.extend_high_i8x16_s (local.get $b0)))))
      (local.set $q3 (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (i16x8.extend_high_i8x16_s (local.get $b0)))))
      (local.set $q4 (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (i16x8.extend_low_i8x16_s (local.get $b1)))))
      (local.set $q5 (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (i16x8.extend_low_i8x16_s (local.get $b1)))))
      (local.set $q6 (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (i16x8.extend_high_i8x16_s (local.get $b1)))))
      (local.set $q7 (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (i16x8.extend_high_i8x16_s (local.get $b1)))))
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $d) (call $dot32 (local.get $x)
        (local.get $q0) (local.get $q1) (local.get $q2) (local.get $q3) (local.get $q4) (local.get $q5) (local.get $q6) (local.get $q7)))))
      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $d) (call $dot32 (i32.add (local.get $x) (local.get $xstride))
        (local.get $q0) (local.get $q1) (local.get $q2) (local.get $q3) (local.get $q4) (local.get $q5) (local.get $q6) (local.get $q7)))))
      (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $d) (call $dot32 (i32.add (local.get $x) (i32.shl (local.get $xstride) (i32.const 1)))
        (local.get $q0) (local.get $q1) (local.get $q2) (local.get $q3) (local.get $q4) (local.get $q5) (local.get $q6) (local.get $q7)))))
      (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $d) (call $dot32 (i32.add (local.get $x) (i32.mul (local.get $xstride) (i32.const 3)))
        (local.get $q0) (local.get $q1) (local.get $q2) (local.get $q3) (local.get $q4) (local.get $q5) (local.get $q6) (local.get $q7)))))
      (local.set $x (i32.add (local.get $x) (i32.const 128)))
      (local.set $p (i32.add (local.get $p) (i32.const 34)))
      (br_if $block (i32.lt_u (local.get $p) (local.get $end))))
    (call $store4 (local.get $o) (local.get $ostride)
      (call $hsum (local.get $a0)) (call $hsum (local.get $a1)) (call $hsum (local.get $a2)) (call $hsum (local.get $a3))))

  ;; ---- int16 input (fast): 8 products and their pairwise sums per i32x4.dot_i16x8_s, exact in integers

  ;; --8<-- [start:idot32]
  ;; Σ q x over one block in int32 lanes: w0..w3 hold weights 0..7, 8..15, 16..23, 24..31 as int16,
  ;; xq the block's 32 int16 inputs.
  (func $idot32 (param $xq i32) (param $w0 v128) (param $w1 v128) (param $w2 v128) (param $w3 v128) (result v128)
    (i32x4.add
      (i32x4.add (i32x4.dot_i16x8_s (local.get $w0) (v128.load (local.get $xq))) (i32x4.dot_i16x8_s (local.get $w1) (v128.load offset=16 (local.get $xq))))
      (i32x4.add (i32x4.dot_i16x8_s (local.get $w2) (v128.load offset=32 (local.get $xq))) (i32x4.dot_i16x8_s (local.get $w3) (v128.load offset=48 (local.get $xq))))))
  ;; --8<-- [end:idot32]

  (func $q4_1_i16_1 (type $inner) (param $p i32) (param $end i32) (param $x i32) (param $xstride i32)
                                  (param $s i32) (param $sstride i32) (param $o i32) (param $ostride i32)
    (local $lo v128) (local $hi v128) (local $acc v128) (local $ms f32)
    (loop $block
      (local.set $lo (v128.and (v128.load offset=4 (local.get $p)) (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15)))
      (local.set $hi (i8x16.shr_u (v128.load offset=4 (local.get $p)) (i32.const 4)))
      ;; d Σ q x  =  (d xd) Σ q xq ;  m Σ x  as in the exact kernel
      (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul
        (f32x4.splat (f32.mul (call $half (local.get $p)) (f32.load (local.get $s))))
        (f32x4.convert_i32x4_s (call $idot32 (local.get $x)
          (i16x8.extend_low_i8x16_u (local.get $lo)) (i16x8.extend_high_i8x16_u (local.get $lo))
          (i16x8.extend_low_i8x16_u (local.get $hi)) (i16x8.extend_high_i8x16_u (local.get $hi)))))))
      (local.set $ms (f32.add (local.get $ms) (f32.mul (call $half (i32.add (local.get $p) (i32.const 2))) (f32.load offset=4 (local.get $s)))))
      (local.set $x (i32.add (local.get $x) (i32.const 64)))
      (local.set $s (i32.add (local.get $s) (i32.const 8)))
      (local.set $p (i32.add (local.get $p) (i32.const 20)))
      (br_if $block (i32.lt_u (local.get $p) (local.get $end))))
    (f32.store (local.get $o) (f32.add (call $hsum (local.get $acc)) (local.get $ms))))

  ;; d Σ q x for one position of a tile, added to acc: the block's weights w0..w3 decoded once
  (func $iblock (param $acc v128) (param $d f32) (param $xq i32) (param $s i32)
                (param $w0 v128) (param $w1 v128) (param $w2 v128) (param $w3 v128) (result v128)
    (f32x4.add (local.get $acc) (f32x4.mul (f32x4.splat (f32.mul (local.get $d) (f32.load (local.get $s))))
      (f32x4.convert_i32x4_s (call $idot32 (local.get $xq) (local.get $w0) (local.get $w1) (local.get $w2) (local.get $w3))))))

  (func $q4_1_i16_4 (type $inner) (param $p i32) (param $end i32) (param $x i32) (param $xstride i32)
                                  (param $s i32) (param $sstride i32) (param $o i32) (param $ostride i32)
    (local $lo v128) (local $hi v128) (local $d f32) (local $m f32)
    (local $w0 v128) (local $w1 v128) (local $w2 v128) (local $w3 v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $m0 f32) (local $m1 f32) (local $m2 f32) (local $m3 f32)
    (loop $block
      (local.set $d (call $half (local.get $p)))
      (local.set $m (call $half (i32.add (local.get $p) (i32.const 2))))
      (local.set $lo (v128.and (v128.load offset=4 (local.get $p)) (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15)))
      (local.set $hi (i8x16.shr_u (v128.load offset=4 (local.get $p)) (i32.const 4)))
      (local.set $w0 (i16x8.extend_low_i8x16_u (local.get $lo)))
      (local.set $w1 (i16x8.extend_high_i8x16_u (local.get $lo)))
      (local.set $w2 (i16x8.extend_low_i8x16_u (local.get $hi)))
      (local.set $w3 (i16x8.extend_high_i8x16_u (local.get $hi)))
      (local.set $a0 (call $iblock (local.get $a0) (local.get $d) (local.get $x) (local.get $s)
        (local.get $w0) (local.get $w1) (local.get $w2) (local.get $w3)))
      (local.set $a1 (call $iblock (local.get $a1) (local.get $d) (i32.add (local.get $x) (local.get $xstride))
        (i32.add (local.get $s) (local.get $sstride)) (local.get $w0) (local.get $w1) (local.get $w2) (local.get $w3)))
      (local.set $a2 (call $iblock (local.get $a2) (local.get $d) (i32.add (local.get $x) (i32.shl (local.get $xstride) (i32.const 1)))
        (i32.add (local.get $s) (i32.shl (local.get $sstride) (i32.const 1))) (local.get $w0) (local.get $w1) (local.get $w2) (local.get $w3)))
      (local.set $a3 (call $iblock (local.get $a3) (local.get $d) (i32.add (local.get $x) (i32.mul (local.get $xstride) (i32.const 3)))
        (i32.add (local.get $s) (i32.mul (local.get $sstride) (i32.const 3))) (local.get $w0) (local.get $w1) (local.get $w2) (local.get $w3)))
      (local.set $m0 (f32.add (local.get $m0) (f32.mul (local.get $m) (f32.load offset=4 (local.get $s)))))
      (local.set $m1 (f32.add (local.get $m1) (f32.mul (local.get $m) (f32.load offset=4 (i32.add (local.get $s) (local.get $sstride))))))
      (local.set $m2 (f32.add (local.get $m2) (f32.mul (local.get $m) (f32.load offset=4 (i32.add (local.get $s) (i32.shl (local.get $sstride) (i32.const 1)))))))
      (local.set $m3 (f32.add (local.get $m3) (f32.mul (local.get $m) (f32.load offset=4 (i32.add (local.get $s) (i32.mul (local.get $sstride) (i32.const 3)))))))
      (local.set $x (i32.add (local.get $x) (i32.const 64)))
      (local.set $s (i32.add (local.get $s) (i32.const 8)))
      (local.set $p (i32.add (local.get $p) (i32.const 20)))
      (br_if $block (i32.lt_u (local.get $p) (local.get $end))))
    (call $store4 (local.get $o) (local.get $ostride)
      (f32.add (call $hsum (local.get $a0)) (local.get $m0)) (f32.add (call $hsum (local.get $a1)) (local.get $m1))
      (f32.add (call $hsum (local.get $a2)) (local.get $m2)) (f32.add (call $hsum (local.get $a3)) (local.get $m3))))

  (func $q8_0_i16_1 (type $inner) (param $p i32) (param $end i32) (param $x i32) (param $xstride i32)
                                  (param $s i32) (param $sstride i32) (param $o i32) (param $ostride i32)
    (local $b0 v128) (local $b1 v128) (local $acc v128)
    (loop $block
      (local.set $b0 (v128.load offset=2 (local.get $p)))
      (local.set $b1 (v128.load offset=18 (local.get $p)))
      (local.set $acc (call $iblock (local.get $acc) (call $half (local.get $p)) (local.get $x) (local.get $s)
        (i16x8.extend_low_i8x16_s (local.get $b0)) (i16x8.extend_high_i8x16_s (local.get $b0))
        (i16x8.extend_low_i8x16_s (local.get $b1)) (i16x8.extend_high_i8x16_s (local.get $b1))))
      (local.set $x (i32.add (local.get $x) (i32.const 64)))
      (local.set $s (i32.add (local.get $s) (i32.const 8)))
      (local.set $p (i32.add (local.get $p) (i32.const 34)))
      (br_if $block (i32.lt_u (local.get $p) (local.get $end))))
    (f32.store (local.get $o) (call $hsum (local.get $acc))))

  (func $q8_0_i16_4 (type $inner) (param $p i32) (param $end i32) (param $x i32) (param $xstride i32)
                                  (param $s i32) (param $sstride i32) (param $o i32) (param $ostride i32)
    (local $b0 v128) (local $b1 v128) (local $d f32)
    (local $w0 v128) (local $w1 v128) (local $w2 v128) (local $w3 v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (loop $block
      (local.set $d (call $half (local.get $p)))
      (local.set $b0 (v128.load offset=2 (local.get $p)))
      (local.set $b1 (v128.load offset=18 (local.get $p)))
      (local.set $w0 (i16x8.extend_low_i8x16_s (local.get $b0)))
      (local.set $w1 (i16x8.extend_high_i8x16_s (local.get $b0)))
      (local.set $w2 (i16x8.extend_low_i8x16_s (local.get $b1)))
      (local.set $w3 (i16x8.extend_high_i8x16_s (local.get $b1)))
      (local.set $a0 (call $iblock (local.get $a0) (local.get $d) (local.get $x) (local.get $s)
        (local.get $w0) (local.get $w1) (local.get $w2) (local.get $w3)))
      (local.set $a1 (call $iblock (local.get $a1) (local.get $d) (i32.add (local.get $x) (local.get $xstride))
        (i32.add (local.get $s) (local.get $sstride)) (local.get $w0) (local.get $w1) (local.get $w2) (local.get $w3)))
      (local.set $a2 (call $iblock (local.get $a2) (local.get $d) (i32.add (local.get $x) (i32.shl (local.get $xstride) (i32.const 1)))
        (i32.add (local.get $s) (i32.shl (local.get $sstride) (i32.const 1))) (local.get $w0) (local.get $w1) (local.get $w2) (local.get $w3)))
      (local.set $a3 (call $iblock (local.get $a3) (local.get $d) (i32.add (local.get $x) (i32.mul (local.get $xstride) (i32.const 3)))
        (i32.add (local.get $s) (i32.mul (local.get $sstride) (i32.const 3))) (local.get $w0) (local.get $w1) (local.get $w2) (local.get $w3)))
      (local.set $x (i32.add (local.get $x) (i32.const 64)))
      (local.set $s (i32.add (local.get $s) (i32.const 8)))
      (local.set $p (i32.add (local.get $p) (i32.const 34)))
      (br_if $block (i32.lt_u (local.get $p) (local.get $end))))
    (call $store4 (local.get $o) (local.get $ostride)
      (call $hsum (local.get $a0)) (call $hsum (local.get $a1)) (call $hsum (local.get $a2)) (call $hsum (local.get $a3))))

  ;; ---------------------------------------------------------------- SwiGLU

  ;; gate <- silu(gate) * up for n floats (n a multiple of 4), silu(g) = g sigmoid(g), with the
  ;; exponential taken of -|g| only: sigmoid(g) = 1 / (1 + e^-g) for g >= 0, e^g / (1 + e^g) below.
  ;; A product below 2^-126 becomes 0 (subnormal floats are slow to multiply on x86).
  (func (export "swiglu") (param $gate i32) (param $up i32) (param $n i32)
    (local $end i32) (local $g v128) (local $e v128) (local $sig v128) (local $y v128)
    (local.set $end (i32.add (local.get $gate) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $gate) (local.get $end)))
      (local.set $g (v128.load (local.get $gate)))
      (local.set $e (call $exp4 (f32x4.neg (f32x4.abs (local.get $g)))))  ;; e^-|g|, in (0, 1]
      (local.set $sig (f32x4.div
        (v128.bitselect (v128.const f32x4 1 1 1 1) (local.get $e) (f32x4.ge (local.get $g) (v128.const f32x4 0 0 0 0)))
        (f32x4.add (v128.const f32x4 1 1 1 1) (local.get $e))))
      (local.set $y (f32x4.mul (f32x4.mul (local.get $g) (local.get $sig)) (v128.load (local.get $up))))
      (v128.store (local.get $gate) (v128.and (local.get $y)
        (f32x4.ge (f32x4.abs (local.get $y)) (v128.const f32x4 0x1p-126 0x1p-126 0x1p-126 0x1p-126))))
      (local.set $gate (i32.add (local.get $gate) (i32.const 16)))
      (local.set $up (i32.add (local.get $up) (i32.const 16)))
      (br $next))))

  ;; ---------------------------------------------------------------- attention

  ;; Causal grouped-query attention of n new positions over the KV cache, float32:
  ;;   for position t (absolute start + t) and query head h, with key/value head g = h / (H / KV):
  ;;   row[s] = softmax_s(q_th . k_gs / sqrt(D)) for s = 0..start + t,  out_th = Σ_s row[s] v_gs.
  ;; q and out are (n, H, D); a cache is (KV, cap, D) for keys (kc) and values (vc); row is
  ;; scratch for cap + 4 floats; if maps is not 0, row (h, t) of the weights is written to
  ;; maps + ((h n + t) S) floats, zeros after position start + t. D is a multiple of 16.
  (func (export "attention") (param $q i32) (param $kc i32) (param $vc i32) (param $out i32) (param $row i32)
        (param $maps i32) (param $H i32) (param $KV i32) (param $D i32) (param $n i32) (param $start i32)
        (param $cap i32) (param $S i32)
    (local $t i32) (local $h i32) (local $seen i32) (local $qp i32) (local $kp i32) (local $vp i32) (local $op i32)
    (local $s i32) (local $i i32) (local $rp i32) (local $end i32) (local $dbytes i32) (local $mp i32)
    (local $scale f32) (local $max f32) (local $score f32) (local $acc v128) (local $sum v128) (local $total v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $pv v128) (local $vs i32)
    (local.set $scale (f32.div (f32.const 1) (f32.sqrt (f32.convert_i32_u (local.get $D)))))
    (local.set $dbytes (i32.shl (local.get $D) (i32.const 2)))
    (local.set $t (i32.const 0))
    (loop $positions
      (local.set $seen (i32.add (i32.add (local.get $start) (local.get $t)) (i32.const 1)))
      (local.set $end (i32.add (local.get $row) (i32.shl (local.get $seen) (i32.const 2))))
      (local.set $h (i32.const 0))
      (loop $heads
        (local.set $qp (i32.add (local.get $q) (i32.mul (i32.add (i32.mul (local.get $t) (local.get $H)) (local.get $h)) (local.get $dbytes))))
        (local.set $op (i32.add (local.get $out) (i32.sub (local.get $qp) (local.get $q))))
        (local.set $kp (i32.mul (i32.mul (i32.div_u (local.get $h) (i32.div_u (local.get $H) (local.get $KV))) (local.get $cap)) (local.get $dbytes)))
        (local.set $vp (i32.add (local.get $vc) (local.get $kp)))
        (local.set $kp (i32.add (local.get $kc) (local.get $kp)))
        ;; scores q . k / sqrt(D), and their max
        (local.set $max (f32.const -inf))
        (local.set $rp (local.get $row))
        (loop $keys
          (local.set $acc (v128.const i32x4 0 0 0 0))
          (local.set $i (i32.const 0))
          (loop $dims
            (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul
              (v128.load (i32.add (local.get $qp) (local.get $i))) (v128.load (i32.add (local.get $kp) (local.get $i))))))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br_if $dims (i32.lt_u (local.get $i) (local.get $dbytes))))
          (local.set $score (f32.mul (call $hsum (local.get $acc)) (local.get $scale)))
          (f32.store (local.get $rp) (local.get $score))
          (local.set $max (f32.max (local.get $max) (local.get $score)))
          (local.set $kp (i32.add (local.get $kp) (local.get $dbytes)))
          (local.set $rp (i32.add (local.get $rp) (i32.const 4)))
          (br_if $keys (i32.lt_u (local.get $rp) (local.get $end))))
        ;; e^(score - max) four at a time (the lanes past the last key read -inf and give 0), their sum
        (v128.store (local.get $end) (v128.const f32x4 -inf -inf -inf -inf))
        (local.set $sum (v128.const i32x4 0 0 0 0))
        (local.set $rp (local.get $row))
        (loop $exps
          (local.set $acc (call $exp4 (f32x4.sub (v128.load (local.get $rp)) (f32x4.splat (local.get $max)))))
          (v128.store (local.get $rp) (local.get $acc))
          (local.set $sum (f32x4.add (local.get $sum) (local.get $acc)))
          (local.set $rp (i32.add (local.get $rp) (i32.const 16)))
          (br_if $exps (i32.lt_u (local.get $rp) (local.get $end))))
        (local.set $total (f32x4.splat (call $hsum (local.get $sum))))
        (local.set $rp (local.get $row))
        (loop $norms  ;; (a weight below 2^-126 becomes 0: subnormal floats are slow to multiply on x86)
          (local.set $acc (f32x4.div (v128.load (local.get $rp)) (local.get $total)))
          (v128.store (local.get $rp) (v128.and (local.get $acc)
            (f32x4.ge (local.get $acc) (v128.const f32x4 0x1p-126 0x1p-126 0x1p-126 0x1p-126))))
          (local.set $rp (i32.add (local.get $rp) (i32.const 16)))
          (br_if $norms (i32.lt_u (local.get $rp) (local.get $end))))
        ;; out = Σ_s row[s] v_s, 16 of the D dimensions at a time
        (local.set $i (i32.const 0))
        (loop $chunks
          (local.set $a0 (v128.const i32x4 0 0 0 0)) (local.set $a1 (v128.const i32x4 0 0 0 0))
          (local.set $a2 (v128.const i32x4 0 0 0 0)) (local.set $a3 (v128.const i32x4 0 0 0 0))
          (local.set $vs (i32.add (local.get $vp) (local.get $i)))
          (local.set $rp (local.get $row))
          (loop $values
            (local.set $pv (v128.load32_splat (local.get $rp)))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $pv) (v128.load (local.get $vs)))))
            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $pv) (v128.load offset=16 (local.get $vs)))))
            (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $pv) (v128.load offset=32 (local.get $vs)))))
            (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $pv) (v128.load offset=48 (local.get $vs)))))
            (local.set $vs (i32.add (local.get $vs) (local.get $dbytes)))
            (local.set $rp (i32.add (local.get $rp) (i32.const 4)))
            (br_if $values (i32.lt_u (local.get $rp) (local.get $end))))
          (v128.store (i32.add (local.get $op) (local.get $i)) (local.get $a0))
          (v128.store offset=16 (i32.add (local.get $op) (local.get $i)) (local.get $a1))
          (v128.store offset=32 (i32.add (local.get $op) (local.get $i)) (local.get $a2))
          (v128.store offset=48 (i32.add (local.get $op) (local.get $i)) (local.get $a3))
          (local.set $i (i32.add (local.get $i) (i32.const 64)))
          (br_if $chunks (i32.lt_u (local.get $i) (local.get $dbytes))))
        ;; the weights, for the attention maps
        (if (local.get $maps) (then
          (local.set $mp (i32.add (local.get $maps) (i32.shl
            (i32.mul (i32.add (i32.mul (local.get $h) (local.get $n)) (local.get $t)) (local.get $S)) (i32.const 2))))
          (memory.copy (local.get $mp) (local.get $row) (i32.shl (local.get $seen) (i32.const 2)))
          (memory.fill (i32.add (local.get $mp) (i32.shl (local.get $seen) (i32.const 2))) (i32.const 0)
            (i32.shl (i32.sub (local.get $S) (local.get $seen)) (i32.const 2)))))
        (local.set $h (i32.add (local.get $h) (i32.const 1)))
        (br_if $heads (i32.lt_u (local.get $h) (local.get $H))))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br_if $positions (i32.lt_u (local.get $t) (local.get $n)))))
)
