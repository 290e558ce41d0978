//! Constants of the fast kernels, generated with MPFR (512 bits) by
//! `cargo test --test fast -- --ignored regenerate_tables`; do not edit by hand
//! (`tests/fast.rs` recomputes every entry and compares bits).
//!
//! Row `m` of each table belongs to the margin `m` (`0..=16`). The kernels read
//! them through `layout`, which derives the gap thresholds and the roots of `T_m`
//! and `U_{m−1}` from these at compile time.

const fn b(x: u64) -> f64 {
    f64::from_bits(x)
}

const NI: f64 = f64::NEG_INFINITY;

/// `cos(jπ/m)`, `j = 1..m−1`, rounded to nearest (decreasing), padded with `-inf`.
#[rustfmt::skip]
pub(crate) static THRESHOLDS: [[f64; 16]; 17] = [
    // m = 0
    [NI, NI, NI, NI, NI, NI, NI, NI, NI, NI, NI, NI, NI, NI, NI, NI],
    // m = 1
    [NI, NI, NI, NI, NI, NI, NI, NI, NI, NI, NI, NI, NI, NI, NI, NI],
    // m = 2
    [b(0x0000000000000000), NI, NI, NI, NI, NI, NI, NI, NI, NI, NI, NI, NI, NI, NI, NI],
    // m = 3
    [b(0x3fe0000000000000), b(0xbfe0000000000000), NI, NI, NI, NI, NI, NI, NI, NI, NI, NI, NI, NI, NI, NI],
    // m = 4
    [b(0x3fe6a09e667f3bcd), b(0x0000000000000000), b(0xbfe6a09e667f3bcd), NI, NI, NI, NI, NI, NI, NI, NI, NI, NI, NI, NI, NI],
    // m = 5
    [b(0x3fe9e3779b97f4a8), b(0x3fd3c6ef372fe950), b(0xbfd3c6ef372fe950), b(0xbfe9e3779b97f4a8), NI, NI, NI, NI, NI, NI, NI, NI, NI, NI, NI, NI],
    // m = 6
    [b(0x3febb67ae8584caa), b(0x3fe0000000000000), b(0x0000000000000000), b(0xbfe0000000000000), b(0xbfebb67ae8584caa), NI, NI, NI, NI, NI, NI, NI, NI, NI, NI, NI],
    // m = 7
    [b(0x3fecd4bca9cb5c71), b(0x3fe3f3a0e28bedd1), b(0x3fcc7b90e3024582), b(0xbfcc7b90e3024582), b(0xbfe3f3a0e28bedd1), b(0xbfecd4bca9cb5c71), NI, NI, NI, NI, NI, NI, NI, NI, NI, NI],
    // m = 8
    [b(0x3fed906bcf328d46), b(0x3fe6a09e667f3bcd), b(0x3fd87de2a6aea963), b(0x0000000000000000), b(0xbfd87de2a6aea963), b(0xbfe6a09e667f3bcd), b(0xbfed906bcf328d46), NI, NI, NI, NI, NI, NI, NI, NI, NI],
    // m = 9
    [b(0x3fee11f642522d1c), b(0x3fe8836fa2cf5039), b(0x3fe0000000000000), b(0x3fc63a1a7e0b738a), b(0xbfc63a1a7e0b738a), b(0xbfe0000000000000), b(0xbfe8836fa2cf5039), b(0xbfee11f642522d1c), NI, NI, NI, NI, NI, NI, NI, NI],
    // m = 10
    [b(0x3fee6f0e134454ff), b(0x3fe9e3779b97f4a8), b(0x3fe2cf2304755a5e), b(0x3fd3c6ef372fe950), b(0x0000000000000000), b(0xbfd3c6ef372fe950), b(0xbfe2cf2304755a5e), b(0xbfe9e3779b97f4a8), b(0xbfee6f0e134454ff), NI, NI, NI, NI, NI, NI, NI],
    // m = 11
    [b(0x3feeb42a9bcd5057), b(0x3feaeb8c8764f0ba), b(0x3fe4f49e7f775887), b(0x3fda9628d9c712b6), b(0x3fc2375f640f44db), b(0xbfc2375f640f44db), b(0xbfda9628d9c712b6), b(0xbfe4f49e7f775887), b(0xbfeaeb8c8764f0ba), b(0xbfeeb42a9bcd5057), NI, NI, NI, NI, NI, NI],
    // m = 12
    [b(0x3feee8dd4748bf15), b(0x3febb67ae8584caa), b(0x3fe6a09e667f3bcd), b(0x3fe0000000000000), b(0x3fd0907dc1930690), b(0x0000000000000000), b(0xbfd0907dc1930690), b(0xbfe0000000000000), b(0xbfe6a09e667f3bcd), b(0xbfebb67ae8584caa), b(0xbfeee8dd4748bf15), NI, NI, NI, NI, NI],
    // m = 13
    [b(0x3fef11f493053d00), b(0x3fec55a7e00740e9), b(0x3fe7f3ccd0032e0c), b(0x3fe22d961ea71119), b(0x3fd6b1d8b2365da1), b(0x3fbedb7debaa3ed8), b(0xbfbedb7debaa3ed8), b(0xbfd6b1d8b2365da1), b(0xbfe22d961ea71119), b(0xbfe7f3ccd0032e0c), b(0xbfec55a7e00740e9), b(0xbfef11f493053d00), NI, NI, NI, NI],
    // m = 14
    [b(0x3fef329c0558e969), b(0x3fecd4bca9cb5c71), b(0x3fe904c37505de4b), b(0x3fe3f3a0e28bedd1), b(0x3fdbc4c04d71abc1), b(0x3fcc7b90e3024582), b(0x0000000000000000), b(0xbfcc7b90e3024582), b(0xbfdbc4c04d71abc1), b(0xbfe3f3a0e28bedd1), b(0xbfe904c37505de4b), b(0xbfecd4bca9cb5c71), b(0xbfef329c0558e969), NI, NI, NI],
    // m = 15
    [b(0x3fef4cfc327a0080), b(0x3fed3bc3aeff7f95), b(0x3fe9e3779b97f4a8), b(0x3fe5698496e20bd8), b(0x3fe0000000000000), b(0x3fd3c6ef372fe950), b(0x3fbac2609b3c576c), b(0xbfbac2609b3c576c), b(0xbfd3c6ef372fe950), b(0xbfe0000000000000), b(0xbfe5698496e20bd8), b(0xbfe9e3779b97f4a8), b(0xbfed3bc3aeff7f95), b(0xbfef4cfc327a0080), NI, NI],
    // m = 16
    [b(0x3fef6297cff75cb0), b(0x3fed906bcf328d46), b(0x3fea9b66290ea1a3), b(0x3fe6a09e667f3bcd), b(0x3fe1c73b39ae68c8), b(0x3fd87de2a6aea963), b(0x3fc8f8b83c69a60b), b(0x0000000000000000), b(0xbfc8f8b83c69a60b), b(0xbfd87de2a6aea963), b(0xbfe1c73b39ae68c8), b(0xbfe6a09e667f3bcd), b(0xbfea9b66290ea1a3), b(0xbfed906bcf328d46), b(0xbfef6297cff75cb0), NI],
];

/// `cos²(kπ/(2m))`, `k = 1..m−1`, as triple-doubles `[R0, R1, R2]`: the squared
/// positive roots of `T_m` (odd `k`) interleaved with those of `U_{m−1}` (even `k`).
#[rustfmt::skip]
pub(crate) static ROOTS_SQ: [&[[f64; 3]]; 17] = [
    // m = 0
    &[],
    // m = 1
    &[],
    // m = 2
    &[[b(0x3fe0000000000000), b(0x0000000000000000), b(0x0000000000000000)]],
    // m = 3
    &[[b(0x3fe8000000000000), b(0x0000000000000000), b(0x0000000000000000)], [b(0x3fd0000000000000), b(0x0000000000000000), b(0x0000000000000000)]],
    // m = 4
    &[[b(0x3feb504f333f9de6), b(0x3c821165f626cdd5), b(0x39157d3e3adec175)], [b(0x3fe0000000000000), b(0x0000000000000000), b(0x0000000000000000)], [b(0x3fc2bec333018867), b(0xbc508b2fb1366ea9), b(0xb8f5f4f8eb7b05d4)]],
    // m = 5
    &[[b(0x3fecf1bbcdcbfa54), b(0xbc6f506319fcfd19), b(0x390b906821044ed8)], [b(0x3fe4f1bbcdcbfa54), b(0xbc6f506319fcfd19), b(0x390b906821044ed8)], [b(0x3fd61c8864680b58), b(0x3c6f506319fcfd19), b(0xb90b906821044ed8)], [b(0x3fb8722191a02d61), b(0xbc15f39cc0605cee), b(0x38abe5f7beec4a06)]],
    // m = 6
    &[[b(0x3feddb3d742c2655), b(0x3c7cec95d0b5c1e3), b(0xb8ff11db689f2ccf)], [b(0x3fe8000000000000), b(0x0000000000000000), b(0x0000000000000000)], [b(0x3fe0000000000000), b(0x0000000000000000), b(0x0000000000000000)], [b(0x3fd0000000000000), b(0x0000000000000000), b(0x0000000000000000)], [b(0x3fb126145e9ecd56), b(0x3c489b517a51f0e9), b(0xb8adc492ec1a662a)]],
    // m = 7
    &[[b(0x3fee6a5e54e5ae38), b(0x3c8a4dc627d253fc), b(0xb92adc6fa58c53ee)], [b(0x3fe9f9d07145f6e9), b(0xbc826821e986eb12), b(0x391bd20418a5e6b0)], [b(0x3fe38f721c6048b0), b(0x3c834a17eea6c0f3), b(0xb9273a8e4e20b8ba)], [b(0x3fd8e11bc73f6e9f), b(0x3c796bd022b27e1b), b(0xb9118ae363be8e8d)], [b(0x3fc818be3ae8245d), b(0x3c53410f4c37588e), b(0x38f0b7ef9d68653f)], [b(0x3fa95a1ab1a51c79), b(0x3c4b239d82dac047), b(0xb8e23905a73ac11b)]],
    // m = 8
    &[[b(0x3feec835e79946a3), b(0x3c6457e610231ac2), b(0xb8f4f3f87abe1619)], [b(0x3feb504f333f9de6), b(0x3c821165f626cdd5), b(0x39157d3e3adec175)], [b(0x3fe61f78a9abaa59), b(0xbc82e59dba7ab4c2), b(0xb8e11e4420e0a4b5)], [b(0x3fe0000000000000), b(0x0000000000000000), b(0x0000000000000000)], [b(0x3fd3c10eaca8ab4f), b(0xbc7a34c48b0a967c), b(0x38e11e4420e0a4b5)], [b(0x3fc2bec333018867), b(0xbc508b2fb1366ea9), b(0xb8f5f4f8eb7b05d4)], [b(0x3fa37ca1866b95cf), b(0xbc415f98408c6b07), b(0xb8e6180f0a83d3cd)]],
    // m = 9
    &[[b(0x3fef08fb2129168e), b(0xbc794741676559d4), b(0x38f1cd41ecba724d)], [b(0x3fec41b7d167a81d), b(0xbc89bb14abeb85f1), b(0xb90da60dbbbd3302)], [b(0x3fe8000000000000), b(0x0000000000000000), b(0x0000000000000000)], [b(0x3fe2c7434fc16e71), b(0x3c7a2ee7f071b20e), b(0x39134657590d3614)], [b(0x3fda7179607d231e), b(0xbc7a2ee7f071b20e), b(0xb9134657590d3614)], [b(0x3fd0000000000000), b(0x0000000000000000), b(0x0000000000000000)], [b(0x3fbdf24174c2bf1b), b(0x3c4bb14abeb85f12), b(0xb8d2cf92221667f0)], [b(0x3f9ee09bdadd2e46), b(0x3c34741676559d3f), b(0xb8bcd41ecba724d4)]],
    // m = 10
    &[[b(0x3fef378709a22a80), b(0xbc84339123cb9e56), b(0xb914006c5789adcb)], [b(0x3fecf1bbcdcbfa54), b(0xbc6f506319fcfd19), b(0x390b906821044ed8)], [b(0x3fe96791823aad2f), b(0xbc524bd9a522ca0d), b(0x38eb0b1fab1b3853)], [b(0x3fe4f1bbcdcbfa54), b(0xbc6f506319fcfd19), b(0x390b906821044ed8)], [b(0x3fe0000000000000), b(0x0000000000000000), b(0x0000000000000000)], [b(0x3fd61c8864680b58), b(0x3c6f506319fcfd19), b(0xb90b906821044ed8)], [b(0x3fca61b9f7154b44), b(0x3c524bd9a522ca0d), b(0xb8eb0b1fab1b3853)], [b(0x3fb8722191a02d61), b(0xbc15f39cc0605cee), b(0x38abe5f7beec4a06)], [b(0x3f990f1ecbbab00a), b(0x3c19c891e5cf2b14), b(0x383b15e26b72af06)]],
    // m = 11
    &[[b(0x3fef5a154de6a82c), b(0xbc89e0c9ccf6e08e), b(0xb91ff0e740971fdc)], [b(0x3fed75c643b2785d), b(0xbc75202f49e43cb7), b(0xb90a62fa39570a5b)], [b(0x3fea7a4f3fbbac43), b(0x3c8576da7370411a), b(0xb920bcec224ebc4e)], [b(0x3fe6a58a3671c4ad), b(0x3c8d3ef32457c6d6), b(0x39233830de0f3020)], [b(0x3fe246ebec81e89b), b(0x3c8718cad8ec47ef), b(0x391aa9a424a7738a)], [b(0x3fdb722826fc2ec9), b(0x3c71ce6a4e277022), b(0xb91aa9a424a7738a)], [b(0x3fd2b4eb931c76a5), b(0x3c560866dd41c94e), b(0xb8f9c186f0798102)], [b(0x3fc616c301114ef3), b(0xbc65db69cdc10467), b(0x38d79d8449d789b7)], [b(0x3fb451cde26c3d19), b(0x3c5480bd2790f2dd), b(0xb8e674171aa3d693)], [b(0x3f94bd56432afa8d), b(0xbc0f3633091f71c0), b(0xb88e317ed1c04894)]],
    // m = 12
    &[[b(0x3fef746ea3a45f8a), b(0x3c88a9172d3bcb1f), b(0x392011897c38c498)], [b(0x3feddb3d742c2655), b(0x3c7cec95d0b5c1e3), b(0xb8ff11db689f2ccf)], [b(0x3feb504f333f9de6), b(0x3c821165f626cdd5), b(0x39157d3e3adec175)], [b(0x3fe8000000000000), b(0x0000000000000000), b(0x0000000000000000)], [b(0x3fe4241f7064c1a4), b(0x3c6a5ec4dc53f528), b(0x39054ba97b258f75)], [b(0x3fe0000000000000), b(0x0000000000000000), b(0x0000000000000000)], [b(0x3fd7b7c11f367cb8), b(0xbc6a5ec4dc53f528), b(0xb9054ba97b258f75)], [b(0x3fd0000000000000), b(0x0000000000000000), b(0x0000000000000000)], [b(0x3fc2bec333018867), b(0xbc508b2fb1366ea9), b(0xb8f5f4f8eb7b05d4)], [b(0x3fb126145e9ecd56), b(0x3c489b517a51f0e9), b(0xb8adc492ec1a662a)], [b(0x3f91722b8b740eb4), b(0xbc3522e5a77963e8), b(0xb8a1897c38c497c0)]],
    // m = 13
    &[[b(0x3fef88fa49829e80), b(0x3c61b5826032832e), b(0x38fabfcb8d28e2bd)], [b(0x3fee2ad3f003a074), b(0x3c8bca18f4e4dc74), b(0xb901f8e0c726fefd)], [b(0x3febf9e668019706), b(0x3c6401490c8d7093), b(0x39037a3393eebe62)], [b(0x3fe916cb0f53888c), b(0x3c8d4dd701918cfd), b(0xb92a0c70bcce4d2c)], [b(0x3fe5ac762c8d9768), b(0x3c814f8ea2601058), b(0x3929f154cacea23f)], [b(0x3fe1edb7debaa3ee), b(0xbc8e5aae78e65c28), b(0x3920b28410077b1a)], [b(0x3fdc2490428ab825), b(0xbc4a5518719a3d84), b(0xb8d6508200ef6340)], [b(0x3fd4a713a6e4d12f), b(0x3c7d60e2bb3fdf4f), b(0x39083aacd4c57706)], [b(0x3fcba4d3c2b1ddce), b(0x3c559147f373981b), b(0x38f06385e6726961)], [b(0x3fc018665ff9a3e8), b(0xbc6401490c8d7093), b(0xb9037a3393eebe62)], [b(0x3fad52c0ffc5f8b9), b(0x3c1af3858d91c609), b(0xb86c7ce364040cdc)], [b(0x3f8dc16d9f585ffc), b(0xbc2b5826032832e3), b(0xb8c5fe5c694715e9)]],
    // m = 14
    &[[b(0x3fef994e02ac74b4), b(0x3c8c72a949dea3bb), b(0xb921d9501b22a725)], [b(0x3fee6a5e54e5ae38), b(0x3c8a4dc627d253fc), b(0xb92adc6fa58c53ee)], [b(0x3fec8261ba82ef26), b(0xbc8e8994cc62ff60), b(0xb907df7a3d714923)], [b(0x3fe9f9d07145f6e9), b(0xbc826821e986eb12), b(0x391bd20418a5e6b0)], [b(0x3fe6f130135c6af0), b(0x3c8005772daf64d4), b(0xb924e1994fbaf8ac)], [b(0x3fe38f721c6048b0), b(0x3c834a17eea6c0f3), b(0xb9273a8e4e20b8ba)], [b(0x3fe0000000000000), b(0x0000000000000000), b(0x0000000000000000)], [b(0x3fd8e11bc73f6e9f), b(0x3c796bd022b27e1b), b(0xb9118ae363be8e8d)], [b(0x3fd21d9fd9472a1f), b(0x3c7ff511a4a13659), b(0xb9163ccd608a0ea9)], [b(0x3fc818be3ae8245d), b(0x3c53410f4c37588e), b(0x38f0b7ef9d68653f)], [b(0x3fbbecf22be886d4), b(0xbc4766b339d009ff), b(0x38ef7de8f5c5248b)], [b(0x3fa95a1ab1a51c79), b(0x3c4b239d82dac047), b(0xb8e23905a73ac11b)], [b(0x3f89ac7f54e2d2e4), b(0xbc2caa5277a8eeae), b(0xb8b357f26eac6d5c)]],
    // m = 15
    &[[b(0x3fefa67e193d0040), b(0xbc7d582906f0e46f), b(0xb907fb1f4a12944e)], [b(0x3fee9de1d77fbfcb), b(0xbc87ab53d56ca17f), b(0xb9299102886d9b0d)], [b(0x3fecf1bbcdcbfa54), b(0xbc6f506319fcfd19), b(0x390b906821044ed8)], [b(0x3feab4c24b7105ec), b(0xbc6b5feef3e4cbc6), b(0x38f8e8f129d239b4)], [b(0x3fe8000000000000), b(0x0000000000000000), b(0x0000000000000000)], [b(0x3fe4f1bbcdcbfa54), b(0xbc6f506319fcfd19), b(0x390b906821044ed8)], [b(0x3fe1ac2609b3c577), b(0xbc7fae761ddac473), b(0x391f15c6dea2a27b)], [b(0x3fdca7b3ec987512), b(0x3c7fae761ddac473), b(0xb91f15c6dea2a27b)], [b(0x3fd61c8864680b58), b(0x3c6f506319fcfd19), b(0xb90b906821044ed8)], [b(0x3fd0000000000000), b(0x0000000000000000), b(0x0000000000000000)], [b(0x3fc52cf6d23be850), b(0x3c6b5feef3e4cbc6), b(0xb8f8e8f129d239b4)], [b(0x3fb8722191a02d61), b(0xbc15f39cc0605cee), b(0x38abe5f7beec4a06)], [b(0x3fa621e288040356), b(0xbc252b0aa4d7a026), b(0xb8cbbf5de4993cdf)], [b(0x3f866079b0bff00f), b(0xbc24fadf21e3721a), b(0xb86382d7b5aec751)]],
    // m = 16
    &[[b(0x3fefb14be7fbae58), b(0x3c6562172a361fd3), b(0xb9063744e82fc701)], [b(0x3feec835e79946a3), b(0x3c6457e610231ac2), b(0xb8f4f3f87abe1619)], [b(0x3fed4db3148750d2), b(0xbc8f98273c5d2495), b(0x39107cd168d23a5f)], [b(0x3feb504f333f9de6), b(0x3c821165f626cdd5), b(0x39157d3e3adec175)], [b(0x3fe8e39d9cd73464), b(0x3c7b25dd267f6600), b(0xb9156f3106b0516d)], [b(0x3fe61f78a9abaa59), b(0xbc82e59dba7ab4c2), b(0xb8e11e4420e0a4b5)], [b(0x3fe31f17078d34c1), b(0x3c85b25cc8c00e50), b(0xb91993d818d634e6)], [b(0x3fe0000000000000), b(0x0000000000000000), b(0x0000000000000000)], [b(0x3fd9c1d1f0e5967d), b(0x3c749b466e7fe360), b(0x391993d818d634e6)], [b(0x3fd3c10eaca8ab4f), b(0xbc7a34c48b0a967c), b(0x38e11e4420e0a4b5)], [b(0x3fcc71898ca32e6f), b(0x3c53688b66026801), b(0x38f5bcc41ac145b3)], [b(0x3fc2bec333018867), b(0xbc508b2fb1366ea9), b(0xb8f5f4f8eb7b05d4)], [b(0x3fb592675bc57974), b(0xbc29f630e8b6dac8), b(0xb8bf345a348e97cd)], [b(0x3fa37ca1866b95cf), b(0xbc415f98408c6b07), b(0xb8e6180f0a83d3cd)], [b(0x3f83ad06011469fb), b(0xbc262172a361fd2a), b(0xb8cc8bb17d038ff6)]],
];
