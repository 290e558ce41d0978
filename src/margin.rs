//! Decision boundaries, angular margin and the paper's m_min results (in progress).
