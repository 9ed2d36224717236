//! The fal.ai HTTP client of episodic (under construction).
