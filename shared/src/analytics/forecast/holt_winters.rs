//! Additive Holt-Winters (triple exponential smoothing) with an optionally damped trend and
//! a weekly season, written out here: the one ETS crate on crates.io (`augurs-ets` 0.10) has
//! no seasonal models yet (`unimplemented!` when asked), and `augurs-mstl` is another method
//! (STL decomposition) with a linear-algebra stack behind it; the recurrences below are a
//! few dozen lines, and owning them lets the tests check them step by step.
//!
//! The model, for a series `y_0 … y_{n−1}` and season `m` = [`SEASON`] (Hyndman &
//! Athanasopoulos, *Forecasting: Principles and Practice*, §8.3 and §8.7, with Gardner's
//! damping `φ`):
//!
//! ```text
//! one step ahead  ŷ_t   = l_{t−1} + φ·b_{t−1} + s_{t−m}
//! level           l_t   = α·(y_t − s_{t−m}) + (1 − α)·(l_{t−1} + φ·b_{t−1})
//! trend           b_t   = β·(l_t − l_{t−1}) + (1 − β)·φ·b_{t−1}
//! season          s_t   = γ·(y_t − l_t) + (1 − γ)·s_{t−m}
//! h steps ahead   ŷ_n+h = l_{n−1} + (φ + φ² + … + φ^h)·b_{n−1} + s_{n−1+h−m·⌈h/m⌉}
//! ```
//!
//! Initial state from the first `K` = min(4, whole seasons) seasons, with `M_k` the mean of
//! season `k`: the trend `b = (M_K − M_1) / (m·(K − 1))`, the level at the end of season 1
//! `l = M_1 + b·(m − 1)/2` (a season's mean sits on its middle day), and each day of the week
//! `s_i = mean over k of (y_{km+i} − M_k − b·(i − (m − 1)/2))`: one week alone makes a noisy
//! pattern that a small γ then keeps for good (the backtest of a three-week history showed it:
//! MAPE 45 % from one week, 32 % from three, on the same series). The recurrences then run
//! from day `m` on, and the one-step errors `e_t = y_t − ŷ_t` of those `n − m` days are the
//! fit's residuals.
//!
//! Parameters are chosen by minimising the residuals' sum of squares over a grid (then a
//! finer grid around the best point): α ∈ [0.05, 0.95], β ∈ {0, 0.02, 0.05, 0.1, 0.2, 0.3},
//! γ ∈ [0, 1 − α] (the usual admissible region of the classic form), φ ∈ {0.8, 0.9, 0.95,
//! 0.98, 1}. The grid is deterministic (ties keep the first point), a few thousand runs of
//! a 112-day series: milliseconds.
//!
//! Prediction interval: the error-correction form of the recurrences is ETS(A,Ad,A) with
//! `α`, `β* = α·β` and `γ* = (1 − α)·γ`, whose h-step forecast variance is (Hyndman et al.,
//! *Forecasting with Exponential Smoothing*, 2008, Table 6.1, class 1)
//!
//! ```text
//! v_h = σ²·(1 + Σ_{j=1}^{h−1} c_j²),  c_j = α + β*·(φ + … + φ^j) + γ*·[j mod m = 0]
//! ```
//!
//! with `σ` the residuals' root mean square; the interval is `ŷ ± z·√v_h`, so it never narrows
//! with the horizon. The sum of the next `H` days has variance `σ²·Σ_{j=1}^{H} (1 + Σ_{i=1}^{H−j}
//! c_i)²` (each future error moves every later day), which the reorder suggestion uses.

/// Days in a season: demand repeats weekly.
pub const SEASON: usize = 7;
/// The shortest series a model is fitted to: two seasons, for the initial state.
pub const MIN_LEN: usize = 2 * SEASON;
/// Seasons averaged for the initial state (fewer when the series is shorter).
pub const INIT_SEASONS: usize = 4;

/// Smoothing parameters: level `alpha`, trend `beta`, season `gamma`, trend damping `phi`
/// (1 = undamped).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Params {
    pub alpha: f64,
    pub beta: f64,
    pub gamma: f64,
    pub phi: f64,
}

/// A model run over a whole series: its parameters, the state after the last observation and
/// the one-step residuals.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub params: Params,
    /// Observations the model saw.
    pub len: usize,
    pub level: f64,
    pub trend: f64,
    /// `seasonal[t % SEASON]` is the latest seasonal component of the days `t` of that
    /// position (day 0 is the series' first day).
    pub seasonal: [f64; SEASON],
    /// Sum of squared one-step errors over days `SEASON..len`.
    pub sse: f64,
    /// Root mean square of those errors (0 when there are none).
    pub sigma: f64,
}

/// Runs the recurrences over `y` with `params`; `None` when `y` is shorter than [`MIN_LEN`].
pub fn run(y: &[f64], params: Params) -> Option<Model> {
    if y.len() < MIN_LEN {
        return None;
    }
    let m = SEASON as f64;
    let seasons = (y.len() / SEASON).min(INIT_SEASONS);
    let means: Vec<f64> = y
        .chunks_exact(SEASON)
        .take(seasons)
        .map(|season| season.iter().sum::<f64>() / m)
        .collect();
    let (first, last) = (means[0], means[seasons - 1]);
    let mut trend = (last - first) / (m * (seasons - 1) as f64);
    let middle = (m - 1.0) / 2.0;
    let mut level = first + trend * middle;
    let mut seasonal = [0.0; SEASON];
    for (i, s) in seasonal.iter_mut().enumerate() {
        let offset = trend * (i as f64 - middle);
        *s = means
            .iter()
            .enumerate()
            .map(|(k, mean)| y[k * SEASON + i] - (mean + offset))
            .sum::<f64>()
            / seasons as f64;
    }
    let Params {
        alpha,
        beta,
        gamma,
        phi,
    } = params;
    let mut sse = 0.0;
    for (t, &value) in y.iter().enumerate().skip(SEASON) {
        let slot = t % SEASON;
        let season = seasonal[slot];
        let damped = phi * trend;
        let error = value - (level + damped + season);
        sse += error * error;
        let next = alpha * (value - season) + (1.0 - alpha) * (level + damped);
        trend = beta * (next - level) + (1.0 - beta) * damped;
        level = next;
        seasonal[slot] = gamma * (value - level) + (1.0 - gamma) * season;
    }
    let errors = (y.len() - SEASON) as f64;
    Some(Model {
        params,
        len: y.len(),
        level,
        trend,
        seasonal,
        sse,
        sigma: (sse / errors).sqrt(),
    })
}

/// `from, from + step, …` up to `to`, in hundredths (so 0.3 is 0.3, not 0.30000000000000004).
fn steps(from: f64, to: f64, step: f64) -> impl Iterator<Item = f64> {
    let count = ((to - from) / step + 1e-9).floor().max(-1.0) as i64;
    (0..=count).map(move |i| ((from + step * i as f64) * 100.0).round() / 100.0)
}

/// The grid's points: coarse, or around `centre` (α and γ in 0.01 steps, β and φ kept).
fn grid(centre: Option<Params>) -> Vec<Params> {
    const BETAS: [f64; 6] = [0.0, 0.02, 0.05, 0.1, 0.2, 0.3];
    const PHIS: [f64; 5] = [0.8, 0.9, 0.95, 0.98, 1.0];
    let (alphas, betas, phis): (Vec<f64>, Vec<f64>, Vec<f64>) = match centre {
        None => (
            steps(0.05, 0.95, 0.05).collect(),
            BETAS.to_vec(),
            PHIS.to_vec(),
        ),
        Some(c) => (
            steps((c.alpha - 0.04).max(0.01), (c.alpha + 0.04).min(0.99), 0.01).collect(),
            vec![c.beta],
            vec![c.phi],
        ),
    };
    let mut points = Vec::new();
    for &alpha in &alphas {
        let gammas: Vec<f64> = match centre {
            None => steps(0.0, 1.0 - alpha, 0.05).collect(),
            Some(c) => steps((c.gamma - 0.04).max(0.0), c.gamma + 0.04, 0.01).collect(),
        };
        for gamma in gammas.into_iter().filter(|g| *g <= 1.0 - alpha + 1e-9) {
            for &beta in &betas {
                for &phi in &phis {
                    points.push(Params {
                        alpha,
                        beta,
                        gamma,
                        phi,
                    });
                }
            }
        }
    }
    points
}

/// The model of `y` whose parameters minimise the one-step SSE over the grid; `None` when
/// `y` is shorter than [`MIN_LEN`].
pub fn fit(y: &[f64]) -> Option<Model> {
    let best = |points: Vec<Params>, mut best: Option<Model>| {
        for params in points {
            if let Some(model) = run(y, params)
                && best.as_ref().is_none_or(|b| model.sse < b.sse)
            {
                best = Some(model);
            }
        }
        best
    };
    let coarse = best(grid(None), None)?;
    let centre = coarse.params;
    best(grid(Some(centre)), Some(coarse))
}

/// One day of a forecast: the point and the bounds of the 80 % and 95 % intervals, all
/// clamped at zero (demand is never negative).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    pub point: f64,
    pub lower_80: f64,
    pub upper_80: f64,
    pub lower_95: f64,
    pub upper_95: f64,
    /// The point before clamping.
    pub raw: f64,
    /// `√v_h`: the forecast's standard deviation.
    pub sd: f64,
}

/// Two-sided normal quantiles of the intervals.
pub const Z_80: f64 = 1.281_551_565_5;
pub const Z_95: f64 = 1.959_963_984_5;

impl Model {
    /// `c_j` of the variance formula (module docs).
    fn c(&self, j: usize) -> f64 {
        let Params {
            alpha,
            beta,
            gamma,
            phi,
        } = self.params;
        let seasonal = if j.is_multiple_of(SEASON) {
            (1.0 - alpha) * gamma
        } else {
            0.0
        };
        alpha + alpha * beta * damped_sum(phi, j) + seasonal
    }

    /// The next `days` days after the series.
    pub fn forecast(&self, days: usize) -> Vec<Step> {
        let mut squares = 0.0; // Σ_{j<h} c_j²
        (1..=days)
            .map(|h| {
                if h > 1 {
                    squares += self.c(h - 1).powi(2);
                }
                let raw = self.level
                    + damped_sum(self.params.phi, h) * self.trend
                    + self.seasonal[(self.len + h - 1) % SEASON];
                let sd = self.sigma * (1.0 + squares).sqrt();
                Step {
                    point: raw.max(0.0),
                    lower_80: (raw - Z_80 * sd).max(0.0),
                    upper_80: (raw + Z_80 * sd).max(0.0),
                    lower_95: (raw - Z_95 * sd).max(0.0),
                    upper_95: (raw + Z_95 * sd).max(0.0),
                    raw,
                    sd,
                }
            })
            .collect()
    }

    /// The standard deviation of the sum of the next `days` days (module docs).
    pub fn sum_sd(&self, days: usize) -> f64 {
        let c: Vec<f64> = (1..days).map(|j| self.c(j)).collect();
        let variance: f64 = (1..=days)
            .map(|j| (1.0 + c[..days - j].iter().sum::<f64>()).powi(2))
            .sum();
        self.sigma * variance.sqrt()
    }
}

/// `φ + φ² + … + φ^h` (`h` when undamped).
fn damped_sum(phi: f64, h: usize) -> f64 {
    let mut power = 1.0;
    let mut sum = 0.0;
    for _ in 0..h {
        power *= phi;
        sum += power;
    }
    sum
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    /// SplitMix64: a fixed-seed generator, so the synthetic series is the same every run.
    struct SplitMix(u64);

    impl SplitMix {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        fn uniform(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }

        /// A standard normal draw (Box–Muller).
        fn normal(&mut self) -> f64 {
            let u = self.uniform().max(1e-12);
            let v = self.uniform();
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        }
    }

    #[test]
    fn the_recurrences_match_a_hand_computed_case() {
        // Two seasons then two more days, α = 0.5, β = 0.1, γ = 0.2, undamped.
        // Season 1: 1..7 (mean 4), season 2: 8..14 (mean 11) → b = 1, l = 4 + 3 = 7,
        // s_i = y_i − (4 + (i − 3)) = 0 for every day: a pure trend.
        let mut y: Vec<f64> = (1..=14).map(f64::from).collect();
        y.extend([20.0, 10.0]);
        let params = Params {
            alpha: 0.5,
            beta: 0.1,
            gamma: 0.2,
            phi: 1.0,
        };
        let model = run(&y[..14], params).unwrap();
        // Season 2 follows the trend exactly: no error, l = 14, b = 1, s = 0.
        assert!(close(model.sse, 0.0, 1e-12));
        assert!(close(model.level, 14.0, 1e-12));
        assert!(close(model.trend, 1.0, 1e-12));
        assert!(model.seasonal.iter().all(|s| close(*s, 0.0, 1e-12)));
        let model = run(&y, params).unwrap();
        // t = 14 (slot 0): ŷ = 14 + 1 + 0 = 15, e = 5; l = 0.5·20 + 0.5·15 = 17.5;
        // b = 0.1·(17.5 − 14) + 0.9·1 = 1.25; s_0 = 0.2·(20 − 17.5) = 0.5.
        // t = 15 (slot 1): ŷ = 17.5 + 1.25 + 0 = 18.75, e = −8.75;
        // l = 0.5·10 + 0.5·18.75 = 14.375; b = 0.1·(14.375 − 17.5) + 0.9·1.25 = 0.8125;
        // s_1 = 0.2·(10 − 14.375) = −0.875.
        assert!(close(model.level, 14.375, 1e-12));
        assert!(close(model.trend, 0.8125, 1e-12));
        assert!(close(model.seasonal[0], 0.5, 1e-12));
        assert!(close(model.seasonal[1], -0.875, 1e-12));
        assert!(close(model.sse, 25.0 + 76.5625, 1e-9));
        // σ = √(101.5625 / 9) over the 9 errors of days 7..15.
        assert!(close(model.sigma, (101.5625f64 / 9.0).sqrt(), 1e-12));
        // The next day is slot 2 (s = 0): 14.375 + 0.8125; the one after, 14.375 + 2·0.8125.
        // Day 6 ahead (t = 21) is slot 0 again: 14.375 + 6·0.8125 + 0.5; day 7 is slot 1.
        let steps = model.forecast(7);
        assert!(close(steps[0].point, 15.1875, 1e-12));
        assert!(close(steps[1].point, 16.0, 1e-12));
        assert!(close(steps[5].point, 19.75, 1e-12));
        assert!(close(steps[6].point, 14.375 + 5.6875 - 0.875, 1e-12));
        // v_1 = σ²; v_2 = σ²(1 + c_1²), c_1 = α + αβ·1 = 0.55.
        assert!(close(steps[0].sd, model.sigma, 1e-12));
        assert!(close(
            steps[1].sd,
            model.sigma * (1.0f64 + 0.3025).sqrt(),
            1e-12
        ));
        assert!(close(
            steps[0].upper_95,
            15.1875 + 1.959_963_984_5 * model.sigma,
            1e-9
        ));
    }

    #[test]
    fn the_initial_week_is_the_average_of_the_first_seasons() {
        // Level 10, pattern p, three seasons; day 0 of the first is 3 high and day 1 is 3
        // low, so every season's mean is 10 and the trend 0. With γ = 0 the seasonal
        // components stay as initialised: p, with a third of each error.
        const P: [f64; 7] = [-3.0, -1.0, 0.0, 0.0, 1.0, 2.0, 1.0];
        let mut y: Vec<f64> = (0..21).map(|t| 10.0 + P[t % 7]).collect();
        y[0] += 3.0;
        y[1] -= 3.0;
        let params = Params {
            alpha: 0.3,
            beta: 0.1,
            gamma: 0.0,
            phi: 1.0,
        };
        let model = run(&y, params).unwrap();
        let mut expected = P;
        expected[0] += 1.0;
        expected[1] -= 1.0;
        for (fitted, truth) in model.seasonal.iter().zip(expected) {
            assert!(close(*fitted, truth, 1e-12), "{:?}", model.seasonal);
        }
    }

    #[test]
    fn damping_shrinks_the_trend_step_by_step() {
        let y: Vec<f64> = (1..=14).map(f64::from).collect();
        let model = run(
            &y,
            Params {
                alpha: 0.5,
                beta: 0.1,
                gamma: 0.2,
                phi: 0.5,
            },
        )
        .unwrap();
        // Hand-computed: t = 7..13 with φ = 0.5 starting from l = 7, b = 1, s = 0.
        let (mut l, mut b) = (7.0f64, 1.0f64);
        for t in 7..14 {
            let y = f64::from(t + 1);
            let next = 0.5 * y + 0.5 * (l + 0.5 * b);
            b = 0.1 * (next - l) + 0.9 * 0.5 * b;
            l = next;
        }
        assert!(close(model.level, l, 1e-12));
        assert!(close(model.trend, b, 1e-12));
        let steps = model.forecast(2);
        // Seasonals moved off zero on the way; the trend part is 0.5·b then 0.75·b.
        let s = model.seasonal;
        assert!(close(steps[0].raw, l + 0.5 * b + s[0], 1e-12));
        assert!(close(steps[1].raw, l + 0.75 * b + s[1], 1e-12));
        assert_eq!(damped_sum(1.0, 5), 5.0);
        assert!(close(damped_sum(0.5, 3), 0.875, 1e-15));
    }

    #[test]
    fn a_synthetic_weekly_series_gives_back_its_season() {
        // Level 40, a weekly pattern summing to 0, normal noise of σ = 2, 16 weeks.
        const PATTERN: [f64; 7] = [-8.0, -5.0, -3.0, 0.0, 6.0, 12.0, -2.0];
        let mut random = SplitMix(42);
        let y: Vec<f64> = (0..16 * 7 + 14)
            .map(|t| 40.0 + PATTERN[t % 7] + 2.0 * random.normal())
            .collect();
        let (history, future) = y.split_at(16 * 7);
        let model = fit(history).unwrap();
        // The seasonal components, centred (the level may hold a constant of theirs), are
        // within 10 % of the pattern's range (20) of the truth.
        let mean = model.seasonal.iter().sum::<f64>() / 7.0;
        for (slot, truth) in PATTERN.iter().enumerate() {
            let fitted = model.seasonal[slot] - mean;
            assert!(
                close(fitted, *truth, 2.0),
                "slot {slot}: fitted {fitted:.2}, truth {truth}"
            );
        }
        assert!(close(model.level + mean, 40.0, 2.0), "{model:?}");
        // The next 14 days: each within 3σ of the noiseless truth, the whole within 5 %.
        let steps = model.forecast(14);
        for (h, step) in steps.iter().enumerate() {
            let truth = 40.0 + PATTERN[(history.len() + h) % 7];
            assert!(
                close(step.point, truth, 6.0),
                "day {h}: {step:?} vs {truth}"
            );
        }
        let mape = steps
            .iter()
            .zip(future)
            .map(|(step, actual)| (step.point - actual).abs() / actual)
            .sum::<f64>()
            / 14.0
            * 100.0;
        assert!(mape < 10.0, "MAPE {mape:.1} %");
        // σ estimates the noise.
        assert!(close(model.sigma, 2.0, 0.6), "σ {}", model.sigma);
    }

    #[test]
    fn the_interval_widens_with_the_horizon_and_stops_at_zero() {
        let mut random = SplitMix(7);
        let y: Vec<f64> = (0..8 * 7)
            .map(|t| 1.0 + [0.0, 0.0, 1.0, 1.0, 3.0, 5.0, 2.0][t % 7] + random.normal())
            .collect();
        let model = fit(&y).unwrap();
        let steps = model.forecast(90);
        for pair in steps.windows(2) {
            assert!(pair[1].sd >= pair[0].sd);
        }
        assert!(steps[89].sd > steps[0].sd);
        assert!(steps[89].upper_95 - steps[89].raw > steps[0].upper_95 - steps[0].raw);
        for step in &steps {
            assert!(step.lower_95 >= 0.0 && step.lower_80 >= 0.0 && step.point >= 0.0);
            assert!(step.lower_95 <= step.lower_80 && step.lower_80 <= step.point);
            assert!(step.point <= step.upper_80 && step.upper_80 <= step.upper_95);
        }
        // A quiet Monday's lower bound is clamped at zero, not negative.
        assert!(
            steps
                .iter()
                .any(|s| s.raw - Z_95 * s.sd < 0.0 && s.lower_95 == 0.0)
        );
    }

    #[test]
    fn the_sum_of_days_has_the_variance_of_its_shared_errors() {
        let params = Params {
            alpha: 0.5,
            beta: 0.1,
            gamma: 0.2,
            phi: 1.0,
        };
        let mut y: Vec<f64> = (1..=14).map(f64::from).collect();
        y.extend([20.0, 10.0]);
        let model = run(&y, params).unwrap();
        // H = 1: σ. H = 2: c_1 = 0.55 → σ·√((1 + 0.55)² + 1).
        assert!(close(model.sum_sd(1), model.sigma, 1e-12));
        assert!(close(
            model.sum_sd(2),
            model.sigma * (1.55f64.powi(2) + 1.0).sqrt(),
            1e-12
        ));
        // H = 3: c_2 = 0.5 + 0.05·2 = 0.6 → (1 + 0.55 + 0.6)² + (1 + 0.55)² + 1.
        assert!(close(
            model.sum_sd(3),
            model.sigma * (2.15f64.powi(2) + 1.55f64.powi(2) + 1.0).sqrt(),
            1e-12
        ));
        assert_eq!(model.sum_sd(0), 0.0);
    }

    #[test]
    fn short_series_are_refused_and_flat_ones_forecast_flat() {
        assert!(
            run(
                &[1.0; 13],
                Params {
                    alpha: 0.5,
                    beta: 0.0,
                    gamma: 0.0,
                    phi: 1.0
                }
            )
            .is_none()
        );
        assert!(fit(&[1.0; 13]).is_none());
        let model = fit(&[0.0; 28]).unwrap();
        assert_eq!(model.sigma, 0.0);
        assert!(
            model
                .forecast(5)
                .iter()
                .all(|s| s.point == 0.0 && s.upper_95 == 0.0)
        );
    }
}
