use switchboard_testkit as _;
