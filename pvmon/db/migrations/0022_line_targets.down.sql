ALTER TABLE dividend_lines DROP COLUMN accrued_fen;
