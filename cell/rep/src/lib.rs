//! the cell rep: presence, the rep api the auctioneer calls, lifecycle reports and sync
