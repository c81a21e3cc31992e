//! Fixed tables of the QUIC entropy coder: the Golomb code "families" for 8
//! and 5 bits per channel, the residual mapping, the context buckets and the
//! pseudo-random wait table.
//!
//! Owns only constants computed at compile time; no decoder state lives here
//! and nothing here reads input.

/// Longest codeword the QUIC coder emits, in bits.
const CODEWORD_LIMIT: u32 = 26;

/// Largest code parameter count (= bits per channel) of any family.
pub(super) const MAX_CODES: usize = 8;

/// Window bits looked up at once by the decoder's table of short codewords:
/// one byte, so that any byte indexes a row of the table.
const FAST_BITS: u32 = 8;

/// A family of Golomb-Rice codes, limited to [`CODEWORD_LIMIT`] bits, for
/// one channel depth.
///
/// Code `l` sends a value `n` below `gr_count[l]` as `n >> l` zeros, a one
/// and the `l` low bits of `n`; larger values get an escape of
/// `escape_prefix` zeros followed by a fixed-width suffix.
pub(super) struct Family {
    /// Number of values code `l` sends as plain Golomb-Rice codewords.
    gr_count: [u32; MAX_CODES],
    /// A 64-bit window above this value starts with a plain codeword.
    escape_below: [u64; MAX_CODES],
    /// Total length of an escape codeword.
    escape_len: [u32; MAX_CODES],
    /// Mask for the suffix bits of an escape codeword.
    escape_suffix_mask: [u32; MAX_CODES],
    /// `code_len[n][l]`: codeword length of value `n` under code `l`.
    pub(super) code_len: [[u8; MAX_CODES]; 256],
    /// `code_len` widened to the models' 16-bit counters (zero for the
    /// codes a family lacks), so that all counters of a bucket are added
    /// at once (one vector add).
    pub(super) code_len_wide: [[u16; MAX_CODES]; 256],
    /// The tables the decoder reads for every codeword.
    pub(super) short: ShortCodes,
    /// Context bucket of a (masked) previous code value.
    pub(super) bucket: [u8; 256],
    /// First context value of each bucket (buckets are contiguous ranges
    /// of `0..2^bpc`, growing with the value); `2^bpc` for the buckets
    /// after the last one, so bucket `b` is `bucket_start[b]..bucket_start[b + 1]`.
    pub(super) bucket_start: [u16; MAX_CODES + 1],
}

const fn low_mask(bits: u32) -> u32 {
    if bits >= 32 {
        u32::MAX
    } else {
        (1u32 << bits) - 1
    }
}

/// `ceil(log2(v))` for `v >= 1`.
const fn ceil_log2(v: u32) -> u32 {
    if v <= 1 {
        0
    } else {
        32 - (v - 1).leading_zeros()
    }
}

impl Family {
    const fn new(bpc: u32) -> Self {
        let mut f = Family {
            gr_count: [0; MAX_CODES],
            escape_below: [0; MAX_CODES],
            escape_len: [0; MAX_CODES],
            escape_suffix_mask: [0; MAX_CODES],
            code_len: [[0; MAX_CODES]; 256],
            code_len_wide: [[0; MAX_CODES]; 256],
            short: ShortCodes {
                fast: [[0; 1 << FAST_BITS]; MAX_CODES],
                unfold: [0; 256],
            },
            bucket: [0; 256],
            bucket_start: [0; MAX_CODES + 1],
        };
        let levels = 1u32 << bpc;
        let mut l = 0;
        while l < bpc {
            let mut prefix = CODEWORD_LIMIT - bpc;
            if prefix > low_mask(bpc - l) {
                prefix = low_mask(bpc - l);
            }
            let gr = prefix << l;
            let suffix = ceil_log2(levels - gr);
            let li = l as usize;
            f.gr_count[li] = gr;
            f.escape_len[li] = prefix + suffix;
            f.escape_suffix_mask[li] = low_mask(suffix);
            f.escape_below[li] = ((low_mask(32 - prefix) as u64) << 32) | u32::MAX as u64;
            let mut w = 1u32;
            while w < 1 << FAST_BITS {
                let zeros = w.leading_zeros() - (32 - FAST_BITS);
                let len = zeros + 1 + l;
                if zeros < prefix && len <= FAST_BITS {
                    let v = (zeros << l) | ((w >> (FAST_BITS - len)) & low_mask(l));
                    f.short.fast[li][w as usize] = (((v & 0xff) << 8) | len) as u16;
                }
                w += 1;
            }
            let mut n = 0u32;
            while n < 256 {
                let len = if n < gr {
                    (n >> l) + l + 1
                } else {
                    prefix + suffix
                };
                f.code_len[n as usize][li] = len as u8;
                f.code_len_wide[n as usize][li] = len as u16;
                n += 1;
            }
            l += 1;
        }

        let top = levels - 1;
        let mut s = 0u32;
        while s < levels {
            f.short.unfold[s as usize] = if s & 1 == 1 { top - (s >> 1) } else { s >> 1 } as u8;
            s += 1;
        }

        // Buckets group contexts 0 | 1-2 | 3-6 | 7-14 | ...; the last bucket
        // absorbs whatever would be left over by a bucket of the next size.
        let mut map = [0u8; 256];
        let (mut start, mut size, mut index) = (0u32, 1u32, 0u8);
        loop {
            if index > 0 {
                size *= 2;
            }
            let mut end = start + size - 1;
            if end + size >= levels {
                end = top;
            }
            f.bucket_start[index as usize] = start as u16;
            let mut v = start;
            while v <= end {
                map[v as usize] = index;
                v += 1;
            }
            if end >= top {
                let mut b = index as usize + 1;
                while b <= MAX_CODES {
                    f.bucket_start[b] = levels as u16;
                    b += 1;
                }
                break;
            }
            index += 1;
            start = end + 1;
        }
        let mut v = 0usize;
        while v < 256 {
            f.bucket[v] = map[v & top as usize];
            v += 1;
        }
        f
    }

    /// Decode one codeword of code `l` from the 64-bit window `bits`
    /// (next stream bit in the MSB; only the top 32 matter): the value
    /// (truncated to a byte, as the reference coder stores it) and the
    /// codeword length. (The decoder's loop uses the two halves, the table
    /// of short codewords and [`Self::decode_long`], separately.)
    #[cfg_attr(not(test), allow(dead_code))]
    #[inline(always)]
    pub(super) fn decode(&self, l: usize, bits: u64) -> (u8, u32) {
        match self.decode_short(l, bits) {
            Some(short) => short,
            None => self.decode_long(l, bits),
        }
    }

    /// Decode a codeword of code `l` of at most `FAST_BITS` bits (8) from
    /// the top of `bits` by table lookup, or `None` if the codeword there is
    /// longer.
    #[cfg_attr(not(test), allow(dead_code))]
    #[inline(always)]
    pub(super) fn decode_short(&self, l: usize, bits: u64) -> Option<(u8, u32)> {
        self.short.decode_short(l, bits)
    }

    /// Decode any codeword of code `l` from the window `bits` (of which the
    /// top 32 must be stream bits), without the short-codeword table.
    #[inline(always)]
    pub(super) fn decode_long(&self, l: usize, bits: u64) -> (u8, u32) {
        let l = l % MAX_CODES;
        if bits > self.escape_below[l] {
            let zeros = bits.leading_zeros();
            let len = zeros + 1 + l as u32;
            // The codeword's top `len` bits are the one ending the zeros
            // and the `l` low bits: `(1 << l) + low`. Fold the one into the
            // high part, `(zeros - 1) << l`, rather than masking it off.
            let v = (zeros.wrapping_sub(1) << l).wrapping_add((bits >> (64 - len)) as u32);
            (v as u8, len)
        } else {
            let len = self.escape_len[l];
            let v = self.gr_count[l] + ((bits >> (64 - len)) as u32 & self.escape_suffix_mask[l]);
            (v as u8, len)
        }
    }
}

/// The tables the decoder reads for every codeword: the short codewords
/// and the residual mapping. Small enough (4.3 KB) for each decoding pass
/// to keep its own copy beside its models, so that the pixel loop reaches
/// both from one base address.
#[derive(Clone)]
pub(super) struct ShortCodes {
    /// `fast[l][w]`: the plain codeword of code `l` that a window
    /// starting with the `FAST_BITS` bits `w` holds, if it is no longer
    /// than that, as `value << 8 | len`; 0 if it is longer (or an escape).
    /// The length is in the low bits so that it can shift the window as
    /// loaded (x86 shifts take their count from the low byte of a
    /// register), and a row is indexed by a byte, with no check.
    fast: [[u16; 1 << FAST_BITS]; MAX_CODES],
    /// Residual mapping: folded code value (0, 1, 2, ...) to a signed
    /// difference modulo `2^bpc` (0, -1, +1, -2, ...). Zero above `2^bpc`.
    pub(super) unfold: [u8; 256],
}

impl ShortCodes {
    /// [`Family::decode_short`]: the codeword of code `l` at the top of
    /// `bits`, if it is no longer than `FAST_BITS`.
    #[inline(always)]
    pub(super) fn decode_short(&self, l: usize, bits: u64) -> Option<(u8, u32)> {
        let row = &self.fast[l % MAX_CODES];
        let short = row[(bits >> (64 - FAST_BITS)) as usize];
        if short != 0 {
            Some(((short >> 8) as u8, u32::from(short & 0xff)))
        } else {
            None
        }
    }
}

impl Family {
    /// The codeword for value `n` under code `l`: its bits (right-aligned)
    /// and its length. Only the test encoder codes; the decoder never does.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) fn codeword(&self, l: usize, n: u8) -> (u32, u32) {
        let l = l % MAX_CODES;
        let n = u32::from(n);
        if n < self.gr_count[l] {
            ((1 << l) | (n & low_mask(l as u32)), (n >> l) + l as u32 + 1)
        } else {
            (n - self.gr_count[l], self.escape_len[l])
        }
    }
}

/// The family for 8-bit channels (RGB24/32, RGBA, GRAY).
pub(super) static FAMILY_8BPC: Family = Family::new(8);
/// The family for 5-bit channels (RGB16).
pub(super) static FAMILY_5BPC: Family = Family::new(5);

/// Threshold above which a bucket's counters are halved, indexed by the
/// wait-mask index (for the coder's model evolution setting 3).
pub(super) const HALVING_TRIGGER: [u32; 11] =
    [110, 550, 900, 800, 550, 400, 350, 250, 140, 160, 140];

/// Run-length coder states: `2^RUN_ORDER[state]` is the expected run length.
#[rustfmt::skip]
pub(super) const RUN_ORDER: [u32; 32] = [
    0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 9, 10, 11, 12, 13,
    14, 15,
];

/// `RUN_LENGTH_BEFORE[s]`: the pixels that the ones of states `0..s`
/// stand for (the sum of `2^RUN_ORDER[t]` for `t < s`), so a string of ones
/// is accounted at once.
pub(super) const RUN_LENGTH_BEFORE: [u32; 33] = {
    let mut sums = [0u32; 33];
    let mut s = 0;
    while s < 32 {
        sums[s + 1] = sums[s] + (1 << RUN_ORDER[s]);
        s += 1;
    }
    sums
};

/// The coder's fixed pseudo-random table; its low bits decide how many
/// pixels pass between two model updates.
#[rustfmt::skip]
pub(super) const WAIT_CHAOS: [u32; 256] = [
    0x02c5_7542, 0x3542_7717, 0x2f5a_2153, 0x9244_f155, 0x7bd2_6d07, 0x354c_6052,
    0x5732_9b28, 0x2993_868e, 0x6cd8_808c, 0x147b_46e0, 0x99db_66af, 0xe32b_4cac,
    0x1b67_1264, 0x9d43_3486, 0x62a4_c192, 0x0608_9a4b, 0x9e3d_ce44, 0xdaab_ee13,
    0x2224_25ea, 0xa46f_331d, 0xcd58_9250, 0x8bb8_1d7f, 0xc8b7_36b9, 0x3594_8d33,
    0xd7ac_7fd0, 0x5fbe_2803, 0x2cfb_c105, 0x013d_bc4e, 0x7a37_820f, 0x39f8_8e9e,
    0xedd5_8794, 0xc507_6689, 0xfcad_a5a4, 0x64c2_f46d, 0xb3ba_3243, 0x8974_b4f9,
    0x5a05_aebd, 0x20af_cd00, 0x39e2_b008, 0x88a1_8a45, 0x600b_de29, 0xf397_1ace,
    0xf37b_0a6b, 0x7041_495b, 0x70b7_07ab, 0x06be_ffbb, 0x4206_051f, 0xe13c_4ee3,
    0xc1a7_8327, 0x91aa_067c, 0x8295_f72a, 0x7329_17a6, 0x1d87_1b4d, 0x4048_f136,
    0xf184_0e7e, 0x6a60_48c1, 0x696c_b71a, 0x7ff5_01c3, 0x0fc6_310b, 0x57e0_f83d,
    0x8cc2_6e74, 0x11a5_25a2, 0x9469_34c7, 0x7cd8_88f0, 0x8f9d_8604, 0x4f86_e73b,
    0x0452_0316, 0xdeee_a20c, 0xf1de_f496, 0x6768_7288, 0xf540_c5b2, 0x2240_1484,
    0x3478_658a, 0xc238_5746, 0x0197_9c2c, 0x5dad_73c8, 0x0321_f58b, 0xf0fe_dbee,
    0x9282_6ddf, 0x284b_ec73, 0x5b1a_1975, 0x03df_1e11, 0x2096_3e01, 0xa17c_f12b,
    0x740d_776e, 0xa7a6_bf3c, 0x01b5_cce4, 0x1118_aa76, 0xfc6f_ac0a, 0xce92_7e9b,
    0x00bf_2567, 0x806f_216c, 0xbca6_9056, 0x795b_d3e9, 0xc9dc_4557, 0x8929_b6c2,
    0x789d_52ec, 0x3f3f_bf40, 0xb919_7368, 0xa38c_15b5, 0xc3b4_4fa8, 0xca83_33b0,
    0xb7e8_d590, 0xbe80_7feb, 0xbf5f_8360, 0xd99e_2f5c, 0x3729_28e1, 0x7c75_7c4c,
    0x0db5_b154, 0xc01e_de02, 0x1fc8_6e78, 0x1f39_85be, 0xb480_5c77, 0x00c8_80fa,
    0x974c_1b12, 0x35ab_0214, 0xb2dc_840d, 0x5b00_ae37, 0xd313_b026, 0xb260_969d,
    0x7f4c_8879, 0x1734_c4d3, 0x4906_8631, 0xb9f6_a021, 0x6b86_3e6f, 0xcee5_debf,
    0x29f8_c9fb, 0x53dd_6880, 0x72b6_1223, 0x1f67_a9fd, 0x0a0f_6993, 0x13e5_9119,
    0x11cc_a12e, 0xfe6b_6766, 0x16b6_effc, 0x9791_8fc4, 0xc2b8_a563, 0x94f2_f741,
    0x0bfa_8c9a, 0xd153_7ae8, 0xc1da_349c, 0x873c_60ca, 0x9500_5b85, 0x9b5c_080e,
    0xbc8a_bbd9, 0xe1ea_b1d2, 0x6dac_9070, 0x4ea9_ebf1, 0xe0cf_30d4, 0x1ef5_bd7b,
    0xd161_043e, 0x5d2f_a2e2, 0xff5d_3cae, 0x86ed_9f87, 0x2aa1_daa1, 0xbd73_1a34,
    0x9e8f_4b22, 0xb1c2_c67a, 0xc217_58c9, 0xa182_215d, 0xccb0_1948, 0x8d16_8df7,
    0x0423_8cfe, 0x368c_3dbc, 0x0aea_dca5, 0xbad2_1c24, 0x0a71_fee5, 0x9fc5_d872,
    0x54c1_52c6, 0xfc32_9483, 0x6783_384a, 0xeddb_3e1c, 0x65f9_0e30, 0x884a_d098,
    0xce81_675a, 0x4b37_2f7d, 0x68bf_9a39, 0x4344_5f1e, 0x40f8_d8cb, 0x90d5_acb6,
    0x4cd0_7282, 0x349e_eb06, 0x0c9d_5332, 0x520b_24ef, 0x8002_0447, 0x6797_6491,
    0x2f93_1ca3, 0xfe9b_0535, 0xfcd3_0220, 0x61a9_e6cc, 0xa487_d8d7, 0x3f7c_5dd1,
    0x7d01_27c5, 0x48f5_1d15, 0x60de_a871, 0xc9a9_1cb7, 0x58b5_3bb3, 0x9d5e_0b2d,
    0x624a_78b4, 0x30db_ee1b, 0x9bdf_22e7, 0x1df5_c299, 0x2d56_43a7, 0xf4dd_35ff,
    0x03ca_8fd6, 0x53b4_7ed8, 0x6f2c_19aa, 0xfeb0_c1f4, 0x49e5_4438, 0x2f25_77e6,
    0xbf87_6969, 0x7244_0ea9, 0xfa0b_afb8, 0x74f5_b3a0, 0x7dd3_57cd, 0x89ce_1358,
    0x6ef2_cdda, 0x1e77_67f3, 0xa6be_9fdb, 0x4f5f_88f8, 0xba99_4a3a, 0x08ca_6b65,
    0xe089_3818, 0x9e00_a16a, 0xf42b_fc8f, 0x9972_eedc, 0x749c_8b51, 0x32c0_5f5e,
    0xd706_805f, 0x6bfb_b7cf, 0xd921_0a10, 0x31a1_db97, 0x923a_9559, 0x37a7_a1f6,
    0x059f_8861, 0xca49_3e62, 0x6515_7e81, 0x8f64_67dd, 0xab85_ff9f, 0x9331_aff2,
    0x8616_b9f5, 0xedbd_5695, 0xee7e_29b1, 0x313a_c44f, 0xb903_112f, 0x432e_f649,
    0xdc0a_36c0, 0x61cf_2bba, 0x8147_4925, 0xa8b6_c7ad, 0xee59_31de, 0xb2f8_158d,
    0x59fb_7409, 0x2e3d_faed, 0x9af2_5a3f, 0xe1fe_d4d5,
];
