//! Fuzzy ART (Carpenter, Grossberg and Rosen, 1991): unsupervised
//! categories of patterns in [0, 1]ⁿ, learnt one pattern at a time.
//!
//! A pattern is complement-coded (x, 1 − x), so every input has the same
//! size n. A category is a weight vector w; a pattern I activates it by
//! |I ∧ w| / (α + |w|) (∧ the element-wise minimum, |·| the sum), and
//! matches it by |I ∧ w| / n. The most active category that matches at
//! least the vigilance ρ learns w ← β (I ∧ w) + (1 − β) w; when none does,
//! the pattern becomes a new category.

/// The choice parameter α: small, favouring the categories that fit best.
const ALPHA: f64 = 1e-3;
/// The learning rate β: 1 is fast learning (a category's box grows to
/// cover what it has matched).
const BETA: f64 = 1.0;

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct FuzzyArt {
    size: usize,
    vigilance: f64,
    max: usize,
    /// Each category's weights and how many patterns it has taken.
    categories: Vec<(Vec<f64>, u64)>,
}

impl FuzzyArt {
    /// A network for complement-coded patterns of `size` numbers.
    pub fn new(size: usize, vigilance: f64, max: usize) -> FuzzyArt {
        FuzzyArt {
            size,
            vigilance,
            max: max.max(1),
            categories: Vec::new(),
        }
    }

    pub fn categories(&self) -> usize {
        self.categories.len()
    }

    /// Presents `pattern` (values in [0, 1], half of `size`) and learns it;
    /// returns the best match it had among the existing categories (0 when
    /// there were none).
    pub fn learn(&mut self, pattern: &[f64]) -> f64 {
        debug_assert_eq!(2 * pattern.len(), self.size);
        let input: Vec<f64> = pattern
            .iter()
            .copied()
            .chain(pattern.iter().map(|x| 1.0 - x))
            .collect();
        // |I| of a complement-coded pattern: its half-size.
        let n = pattern.len() as f64;
        // (activation, match, index) of every category, most active first.
        let mut ranked: Vec<(f64, f64, usize)> = self
            .categories
            .iter()
            .enumerate()
            .map(|(i, (w, _))| {
                let both: f64 = input.iter().zip(w).map(|(a, b)| a.min(*b)).sum();
                let size: f64 = w.iter().sum();
                (both / (ALPHA + size), both / n, i)
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        let best = ranked.iter().map(|r| r.1).fold(0.0, f64::max);
        match ranked.iter().find(|r| r.1 >= self.vigilance) {
            Some(&(_, _, i)) => {
                let (w, used) = &mut self.categories[i];
                for (wk, ik) in w.iter_mut().zip(&input) {
                    *wk = BETA * wk.min(*ik) + (1.0 - BETA) * *wk;
                }
                *used += 1;
            }
            None => {
                if self.categories.len() >= self.max
                    && let Some(least) =
                        (0..self.categories.len()).min_by_key(|i| self.categories[*i].1)
                {
                    self.categories.swap_remove(least);
                }
                self.categories.push((input, 1));
            }
        }
        best
    }
}
