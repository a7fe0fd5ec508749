//! Past a few thousand visible entities, markers are drawn as grid cells:
//! each cell counts what falls in it and takes the colour of the worst
//! status among them, so a problem stays visible at any zoom while the
//! frame draws a few thousand rectangles instead of 100k markers.

/// Side of a cell in points.
pub const CELL: f32 = 18.0;

/// Visible markers above which they are aggregated.
pub const AGGREGATE_ABOVE: usize = 3_000;

#[derive(Clone, Copy, Default)]
pub struct Cell {
    pub count: u32,
    /// Rank of the worst status (see [`rank`]).
    pub worst: u8,
    /// An entity of that rank, for the colour and the tooltip.
    pub example: u32,
}

/// A grid over the map's rectangle, reused from frame to frame.
#[derive(Default)]
pub struct Grid {
    pub cols: usize,
    pub rows: usize,
    pub cells: Vec<Cell>,
}

impl Grid {
    pub fn reset(&mut self, width: f32, height: f32) {
        self.cols = (width / CELL).ceil().max(1.0) as usize;
        self.rows = (height / CELL).ceil().max(1.0) as usize;
        self.cells.clear();
        self.cells.resize(self.cols * self.rows, Cell::default());
    }

    /// Counts entity `index` of status rank `rank` at `(x, y)` points from
    /// the map's corner.
    pub fn add(&mut self, x: f32, y: f32, rank: u8, index: u32) {
        let (c, r) = ((x / CELL) as usize, (y / CELL) as usize);
        if x < 0.0 || y < 0.0 || c >= self.cols || r >= self.rows {
            return;
        }
        let cell = &mut self.cells[r * self.cols + c];
        if cell.count == 0 || rank > cell.worst {
            cell.worst = rank;
            cell.example = index;
        }
        cell.count += 1;
    }

    /// The cell under `(x, y)`.
    pub fn at(&self, x: f32, y: f32) -> Option<&Cell> {
        let (c, r) = ((x / CELL) as usize, (y / CELL) as usize);
        (x >= 0.0 && y >= 0.0 && c < self.cols && r < self.rows)
            .then(|| &self.cells[r * self.cols + c])
            .filter(|cell| cell.count > 0)
    }
}

/// How bad a status word is: 0 fine … 4 failed. An active alert counts as
/// its severity's rank.
pub fn rank(status: &str, alert: Option<i32>) -> u8 {
    let s = crate::colors::status_rank(status);
    let a = match alert {
        Some(2) => 4,
        Some(1) => 2,
        _ => 0,
    };
    s.max(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_counts_and_keeps_the_worst() {
        let mut g = Grid::default();
        g.reset(100.0, 50.0);
        assert_eq!((g.cols, g.rows), (6, 3));
        g.add(1.0, 1.0, rank("running", None), 7);
        g.add(2.0, 3.0, rank("down", None), 8);
        g.add(4.0, 2.0, rank("idle", None), 9);
        g.add(-1.0, 2.0, 4, 10); // off the map: ignored
        let c = g.at(5.0, 5.0).unwrap();
        assert_eq!((c.count, c.worst, c.example), (3, 4, 8));
        assert!(g.at(50.0, 40.0).is_none());
        assert_eq!(rank("running", Some(2)), 4);
    }
}
